"""Clause templates for the procedurally generated contracts.

Template syntax (resolved by ``_content.Composer``):

* ``<a|b|c>``      one alternative, picked by the seeded RNG;
* ``{ref:key}``    the number of the section with that key (write "Section {ref:key}");
* ``{A}``, ``{B}`` the short names of the two parties.

Rules for authors: keep everything latin-1 (straight quotes only), and never
mention a value that is a field in expected.json (governing law, notice
periods, term lengths, signatory names); ``generate.verify`` checks that a
field's value does not appear before the page it is reported on.
"""

from __future__ import annotations

# Optional sentence openers, only added to sentences starting with one of LOWERABLE
# (so that the first word can be lower-cased).
OPENERS: list[str] = [
    "Except as otherwise expressly provided in this Agreement,",
    "Without limiting the generality of the foregoing,",
    "For the avoidance of doubt,",
    "To the extent permitted by applicable law,",
    "Save as expressly set out herein,",
    "Unless the Parties agree otherwise in writing,",
    "In addition,",
    "Without prejudice to any other right or remedy,",
]
LOWERABLE: set[str] = {"Each", "The", "Neither", "Either", "Any", "All", "No", "Nothing",
                       "Such", "Every", "Where", "If"}

# ---------------------------------------------------------------------------------------
# Pools shared by both contracts.

POOLS: dict[str, list[str]] = {
    "confidentiality": [
        "The Receiving Party shall hold all Confidential Information in strict confidence and "
        "shall not disclose it to any third party except as expressly permitted by this "
        "Agreement.",
        "The Receiving Party shall use the Confidential Information solely for the Purpose and "
        "for no other purpose <whatsoever|of any kind>, including, without limitation, the "
        "development, marketing or improvement of competing products or services.",
        "The Receiving Party shall protect the Confidential Information using at least the same "
        "degree of care that it uses to protect its own confidential information of a similar "
        "nature, and in no event less than a reasonable degree of care.",
        "The Receiving Party may disclose Confidential Information to those of its "
        "Representatives who have a genuine need to know it for the Purpose, provided that such "
        "Representatives are <informed of its confidential nature|made aware of its "
        "confidential character> and are bound by written obligations of confidentiality no "
        "less protective than those set out herein.",
        "The Receiving Party shall be responsible for any act or omission of its Representatives "
        "which, if done or omitted by the Receiving Party itself, would constitute a breach of "
        "this Agreement.",
        "The Receiving Party shall not copy, reproduce or summarise any Confidential Information "
        "except to the extent reasonably necessary for the Purpose, and every copy so made shall "
        "bear the same proprietary and confidentiality notices as the original.",
        "The Receiving Party shall notify the Disclosing Party in writing <promptly|immediately> "
        "upon becoming aware of any actual or suspected unauthorised use or disclosure of "
        "Confidential Information and shall cooperate <fully|in good faith> with the Disclosing "
        "Party to regain possession of such information and to prevent any further unauthorised "
        "use or disclosure.",
        "The Receiving Party shall not reverse engineer, decompile, disassemble or analyse the "
        "composition of any prototypes, software, samples or other tangible objects that embody "
        "the Disclosing Party's Confidential Information.",
        "Confidential Information shall not be stored on personal devices or in any "
        "consumer-grade file sharing service without the prior written consent of the Disclosing "
        "Party.",
        "The Receiving Party shall maintain a <record|written log> of the Representatives to whom "
        "Confidential Information has been disclosed and shall make that record available to the "
        "Disclosing Party upon reasonable request.",
        "The obligations in this Section apply to Confidential Information disclosed in any form "
        "or medium, whether orally, visually, electronically or in writing, and whether or not it "
        "is marked as confidential at the time of disclosure.",
        "Oral or visual disclosures shall be treated as Confidential Information if they are "
        "identified as confidential at the time of disclosure or if a reasonable person would "
        "understand them to be confidential given the nature of the information and the "
        "circumstances of disclosure.",
        "Neither Party shall disclose the existence or the terms of this Agreement, or the fact "
        "that discussions are taking place between the Parties, without the prior written "
        "consent of the other Party.",
        "The Receiving Party shall ensure that Confidential Information held in electronic form "
        "is accessible only through systems that enforce individual user authentication and "
        "that record access in a manner sufficient to support a later audit.",
        "Each Party acknowledges that the Confidential Information of the other Party may "
        "include material non-public information and shall comply with all applicable "
        "securities laws in relation to its use of such information.",
        "Nothing in this Agreement shall oblige either Party to disclose any particular "
        "information, and each Party may decide in its sole discretion what information it "
        "wishes to share with the other.",
        "The Receiving Party shall not use any Confidential Information to solicit, or to "
        "compete for the business of, any customer or supplier of the Disclosing Party.",
        "Any Representative who ceases to require access to Confidential Information shall "
        "have that access withdrawn <promptly|without delay>, and the Receiving Party shall "
        "remind such person of his or her continuing duty of confidentiality.",
    ],
    "exclusions": [
        "The obligations set out in Section {ref:confidentiality} shall not apply to information "
        "that is or becomes generally available to the public other than as a result of a "
        "disclosure by the Receiving Party or its Representatives in breach of this Agreement.",
        "Those obligations shall likewise not apply to information that was lawfully in the "
        "possession of the Receiving Party before it was disclosed by the Disclosing Party, as "
        "evidenced by contemporaneous written records.",
        "Information that is lawfully obtained by the Receiving Party from a third party who is "
        "not under any obligation of confidentiality with respect to it shall not be "
        "Confidential Information.",
        "Information that is independently developed by or for the Receiving Party without use "
        "of or reference to the Confidential Information, as demonstrated by documentary "
        "evidence, shall not be Confidential Information.",
        "The burden of proving that any of the foregoing exceptions applies shall rest with the "
        "Receiving Party.",
        "Confidential Information shall not be deemed to fall within any of the foregoing "
        "exceptions merely because individual features of it are in the public domain, unless "
        "the combination of those features and its principle of operation are themselves in the "
        "public domain.",
        "The fact that general information is publicly known shall not exclude more specific "
        "information from the protection of this Agreement.",
        "Information disclosed with the written approval of the Disclosing Party shall be "
        "excluded only to the extent of, and subject to any conditions attached to, such "
        "approval.",
    ],
    "compelled": [
        "If the Receiving Party or any of its Representatives is required by law, regulation, "
        "court order or the rules of a recognised stock exchange to disclose any Confidential "
        "Information, the Receiving Party shall, to the extent legally permitted, give the "
        "Disclosing Party prompt written notice of that requirement.",
        "The Receiving Party shall cooperate with the Disclosing Party, at the Disclosing "
        "Party's expense, in seeking a protective order or other appropriate remedy.",
        "If no protective order or other remedy is obtained, the Receiving Party shall disclose "
        "only that portion of the Confidential Information which its legal counsel advises is "
        "legally required to be disclosed.",
        "The Receiving Party shall use reasonable efforts to obtain assurance that confidential "
        "treatment will be accorded to any Confidential Information so disclosed.",
        "Any disclosure made in accordance with this Section shall not, of itself, cause the "
        "information disclosed to cease to be Confidential Information for any other purpose.",
        "Nothing in this Agreement prohibits either Party from reporting a possible violation "
        "of law to a governmental authority or from making any other disclosure that is "
        "protected under applicable whistleblower provisions.",
        "Where notice to the Disclosing Party is prohibited by law, the Receiving Party shall "
        "give such notice as soon as the prohibition lapses.",
    ],
    "data": [
        "To the extent that any information exchanged under this Agreement includes Personal "
        "Data, each Party shall comply with all applicable data protection and privacy laws in "
        "relation to its processing of that Personal Data.",
        "Neither Party shall disclose Personal Data to the other Party unless the disclosure is "
        "necessary for the Purpose and is made on a lawful basis.",
        "Each Party shall implement appropriate technical and organisational measures to "
        "protect Personal Data against accidental or unlawful destruction, loss, alteration, "
        "unauthorised disclosure or access.",
        "Each Party shall notify the other without undue delay, and in any event within "
        "<seventy-two (72)|forty-eight (48)> hours, after becoming aware of a personal data "
        "breach affecting Personal Data received from the other Party.",
        "Personal Data shall not be transferred outside the jurisdiction in which it was "
        "collected except in compliance with the transfer mechanisms required by applicable "
        "law.",
        "Each Party shall ensure that its personnel who have access to Personal Data are "
        "subject to a duty of confidentiality and have received appropriate training in data "
        "protection.",
        "Each Party shall provide reasonable assistance to the other in responding to requests "
        "from data subjects seeking to exercise their rights under applicable law.",
        "Upon request, each Party shall provide the other with a written summary of the "
        "security measures it applies to Personal Data received under this Agreement.",
        "Personal Data shall be pseudonymised or anonymised wherever this can be done without "
        "undermining the Purpose.",
        "Neither Party shall attempt to re-identify any individual from data that the other "
        "Party has supplied in pseudonymised or anonymised form.",
    ],
    "remedies": [
        "Each Party acknowledges that damages alone may not be an adequate remedy for a breach "
        "of this Agreement and that the Disclosing Party shall be entitled to seek injunctive "
        "relief, specific performance or other equitable relief for any threatened or actual "
        "breach.",
        "Any such equitable relief shall be in addition to, and not in lieu of, any other "
        "remedies available at law or in equity.",
        "Neither Party shall be required to post a bond or other security as a condition of "
        "obtaining equitable relief, to the extent permitted by law.",
        "The Receiving Party shall indemnify the Disclosing Party against all losses, costs and "
        "expenses, including reasonable legal fees, arising from any breach of this Agreement "
        "by the Receiving Party or its Representatives.",
        "In any action to enforce this Agreement, the prevailing Party shall be entitled to "
        "recover its reasonable costs and legal fees from the other Party.",
        "The rights and remedies provided under this Agreement are cumulative and are in "
        "addition to any rights or remedies provided by law.",
        "No failure or delay by a Party in exercising any right or remedy shall operate as a "
        "waiver of that right or remedy.",
    ],
    "governing": [
        "Each Party irrevocably waives any objection to the venue of any proceedings in the "
        "courts referred to in this Section and any claim that such proceedings have been "
        "brought in an inconvenient forum.",
        "Nothing in this Section shall prevent either Party from seeking interim or injunctive "
        "relief in any court of competent jurisdiction.",
        "The United Nations Convention on Contracts for the International Sale of Goods shall "
        "not apply to this Agreement.",
        "Before commencing any proceedings, the Parties shall attempt in good faith to resolve "
        "any dispute through negotiation between senior executives who have authority to "
        "settle it.",
        "If a dispute is not resolved within <twenty (20)|fifteen (15)> Business Days after a "
        "written request for negotiation, either Party may commence proceedings in accordance "
        "with this Section.",
        "Each Party shall bear its own costs in connection with any negotiation or mediation "
        "under this Section, unless the Parties agree otherwise in writing.",
        "A judgment obtained in the courts referred to in this Section may be enforced in any "
        "other court of competent jurisdiction.",
        "Each Party consents to service of process by any means permitted by the law of the "
        "forum, in addition to the methods of notice set out in Section {ref:notices}.",
    ],
    "notices": [
        "All notices under this Agreement shall be in writing and shall be delivered by hand, "
        "by internationally recognised courier or by email to the addresses set out in this "
        "Section, or to such other address as a Party may designate by notice.",
        "A notice delivered by hand or by courier shall be deemed received upon delivery as "
        "evidenced by a signed receipt.",
        "A notice sent by email shall be deemed received at the time of transmission, provided "
        "that the sender does not receive an automated message indicating non-delivery.",
        "If deemed receipt would occur outside business hours in the place of receipt, it "
        "shall be deferred until business hours resume.",
        "Notices of termination or of any claimed breach shall, in addition to being sent by "
        "email, be delivered by hand or by courier.",
        "This Section does not apply to the service of any proceedings or other documents in "
        "any legal action.",
    ],
    "termination": [
        "Either Party may terminate this Agreement with immediate effect by written notice if "
        "the other Party commits a material breach of this Agreement which is incapable of "
        "remedy.",
        "Either Party may terminate this Agreement with immediate effect by written notice if "
        "the other Party becomes insolvent, makes an assignment for the benefit of creditors, "
        "has a receiver, administrator or similar officer appointed over any of its assets, or "
        "ceases to carry on business in the ordinary course.",
        "Where a material breach is capable of remedy, the non-breaching Party may terminate "
        "only if the breaching Party fails to remedy the breach within <fifteen (15)|twenty-one "
        "(21)> days after receipt of written notice describing it.",
        "Termination of this Agreement shall be without prejudice to any rights or remedies of "
        "either Party which have accrued before the date of termination.",
        "A notice of termination shall specify the date on which termination is to take effect "
        "and, where termination is for breach, shall describe the breach in reasonable detail.",
        "Sections {ref:confidentiality}, {ref:governing} and {ref:misc} shall survive any "
        "termination or expiry of this Agreement, together with any other provision which by "
        "its nature is intended to survive.",
        "The termination of this Agreement shall not affect the validity of any licence or "
        "consent granted in writing before the date of termination, unless that licence or "
        "consent provides otherwise.",
    ],
    "term_extra": [
        "The Parties may extend the Term by mutual written agreement executed by their "
        "authorised representatives before the Term expires.",
        "Any extension of the Term shall apply to information disclosed during the extended "
        "period on the same terms as those set out herein.",
        "Expiry of the Term shall not affect any rights or remedies that have accrued to either "
        "Party before the date of expiry.",
        "With respect to any Confidential Information that constitutes a trade secret under "
        "applicable law, the obligations of the Receiving Party shall continue for so long as "
        "that information remains a trade secret.",
        "The obligations of confidentiality set out in this Agreement shall survive the expiry "
        "or termination of this Agreement for the period specified in this Section.",
    ],
}

# Boilerplate sub-sections of the final "Miscellaneous" / "General" section: title -> sentences.
MISC: dict[str, list[str]] = {
    "Entire Agreement": [
        "This Agreement constitutes the entire agreement between the Parties relating to its "
        "subject matter and supersedes all prior negotiations, understandings and agreements, "
        "whether written or oral.",
        "Each Party acknowledges that in entering into this Agreement it has not relied on any "
        "statement, representation or warranty that is not expressly set out herein.",
        "Nothing in this Section shall limit or exclude any liability for fraud.",
    ],
    "Amendment": [
        "No amendment or variation of this Agreement shall be effective unless it is in writing, "
        "refers expressly to this Agreement and is signed by an authorised representative of "
        "each Party.",
        "An exchange of emails shall not constitute a written amendment for the purposes of "
        "this Section.",
    ],
    "Assignment": [
        "Neither Party may assign, transfer, charge or otherwise deal with any of its rights "
        "or obligations under this Agreement without the prior written consent of the other "
        "Party, such consent not to be unreasonably withheld or delayed.",
        "Either Party may, however, assign this Agreement without consent to a successor to "
        "all or substantially all of its business or assets to which this Agreement relates, "
        "provided that the successor agrees in writing to be bound by its terms.",
        "Any purported assignment in breach of this Section shall be null and void.",
    ],
    "Severability": [
        "If any provision of this Agreement is held to be invalid, illegal or unenforceable, "
        "that provision shall be deemed modified to the minimum extent necessary to make it "
        "valid, legal and enforceable.",
        "If such modification is not possible, the relevant provision shall be deemed deleted, "
        "and the validity and enforceability of the remaining provisions shall not be "
        "affected.",
    ],
    "Waiver": [
        "A waiver of any right or remedy under this Agreement is only effective if it is given "
        "in writing and shall not be deemed a waiver of any subsequent breach or default.",
        "A single or partial exercise of any right or remedy shall not prevent or restrict the "
        "further exercise of that or any other right or remedy.",
    ],
    "Counterparts": [
        "This Agreement may be executed in any number of counterparts, each of which when "
        "executed shall constitute a duplicate original, but all the counterparts together "
        "shall constitute one agreement.",
        "Transmission of an executed counterpart by email in portable document format, or "
        "execution by means of a recognised electronic signature platform, shall take effect "
        "as delivery of an executed counterpart.",
    ],
    "Relationship of the Parties": [
        "Nothing in this Agreement is intended to, or shall be deemed to, establish any "
        "partnership or joint venture between the Parties, or constitute either Party the agent "
        "of the other for any purpose.",
        "Neither Party shall have authority to act as agent for, or to bind, the other Party in "
        "any way.",
    ],
    "Force Majeure": [
        "Neither Party shall be in breach of this Agreement nor liable for any delay in "
        "performing, or failure to perform, any of its obligations if such delay or failure "
        "results from events, circumstances or causes beyond its reasonable control.",
        "The affected Party shall notify the other Party of the nature and likely duration of "
        "the event and shall use reasonable endeavours to mitigate its effect.",
    ],
    "Third-Party Rights": [
        "A person who is not a Party to this Agreement shall have no right to enforce any of "
        "its terms, except that the Affiliates of each Party may enforce the provisions that "
        "are expressly stated to be for their benefit.",
        "The rights of the Parties to rescind or vary this Agreement are not subject to the "
        "consent of any other person.",
    ],
    "Costs": [
        "Except as expressly provided in this Agreement, each Party shall pay its own costs "
        "and expenses incurred in connection with the negotiation, preparation, execution and "
        "performance of this Agreement.",
    ],
    "Interpretation": [
        "Section headings are for convenience only and shall not affect the interpretation of "
        "this Agreement.",
        "Words in the singular include the plural and vice versa, and the words including and "
        "include shall be construed without limitation.",
        "A reference to a statute or statutory provision is a reference to it as amended, "
        "extended or re-enacted from time to time.",
    ],
}

# ---------------------------------------------------------------------------------------
# Pools used only by the mutual NDA.

NDA_POOLS: dict[str, list[str]] = {
    "purpose": [
        "Each Party wishes to disclose certain Confidential Information to the other for the "
        "sole purpose of evaluating the Purpose.",
        "The Parties intend that any disclosure of Confidential Information shall be limited to "
        "what is reasonably required to assess the technical and commercial merits of the "
        "proposed collaboration.",
        "No disclosure shall be made under this Agreement of source code, unpublished patent "
        "applications or clinical data unless the Parties first agree in writing on the "
        "additional safeguards that will apply.",
        "Each Party shall nominate a coordinator who will be responsible for recording the "
        "Confidential Information it discloses and receives under this Agreement.",
        "The Parties acknowledge that discussions under this Agreement are exploratory and may "
        "be terminated by either Party at any time for any reason or for no reason.",
        "Information disclosed by {A} shall be treated in the same way as information disclosed "
        "by {B}, this Agreement being mutual in all respects.",
        "Any evaluation materials exchanged during the discussions shall be used exclusively by "
        "the project teams identified by each Party's coordinator.",
    ],
    "return": [
        "Upon the written request of the Disclosing Party, and in any event upon the "
        "termination or expiry of this Agreement, the Receiving Party shall <promptly|without "
        "delay> return or destroy all documents and materials containing Confidential "
        "Information.",
        "The Receiving Party shall permanently erase all Confidential Information from its "
        "computer systems to the extent technically practicable and shall certify that erasure "
        "in a writing signed by an authorised officer within <fifteen (15)|twenty (20)> "
        "Business Days of the request.",
        "Notwithstanding the foregoing, the Receiving Party may retain copies of Confidential "
        "Information to the extent required by applicable law or by its bona fide document "
        "retention policies, provided that such copies remain subject to this Agreement.",
        "Confidential Information stored in routine electronic backups need not be erased "
        "until those backups are overwritten in the ordinary course of business, provided that "
        "no attempt is made to restore or access it.",
        "The return or destruction of Confidential Information shall not relieve the Receiving "
        "Party of any of its other obligations under this Agreement.",
        "All Derivatives shall be destroyed rather than returned.",
    ],
    "ownership": [
        "All Confidential Information shall remain the sole and exclusive property of the "
        "Disclosing Party.",
        "No licence or other right under any patent, copyright, trade mark, trade secret or "
        "other Intellectual Property Right is granted or implied by this Agreement, except the "
        "limited right to use Confidential Information for the Purpose.",
        "The Receiving Party shall not file any patent application that claims or discloses "
        "any invention derived from the Disclosing Party's Confidential Information.",
        "Any feedback, suggestions or comments provided by the Receiving Party concerning the "
        "Disclosing Party's products may be used by the Disclosing Party without restriction, "
        "provided that the Receiving Party is not identified as their source.",
        "Nothing in this Agreement shall oblige either Party to enter into any further "
        "agreement or business relationship with the other.",
        "Each Party reserves the right to develop, acquire or market products and services that "
        "compete with those of the other Party, provided that it does so without use of the "
        "other Party's Confidential Information.",
        "The Receiving Party shall not remove, obscure or alter any proprietary notice, legend "
        "or marking contained on or in any Confidential Information.",
    ],
    "warranty": [
        "All Confidential Information is provided \"as is\", and the Disclosing Party makes no "
        "representation or warranty, express or implied, as to its accuracy, completeness, "
        "performance or fitness for a particular purpose.",
        "Neither the Disclosing Party nor any of its Representatives shall have any liability "
        "to the Receiving Party resulting from the use of the Confidential Information, except "
        "as expressly provided in a definitive written agreement.",
        "Each Party represents that it has full corporate power and authority to enter into "
        "this Agreement and to perform its obligations hereunder.",
        "Each Party represents that its execution of this Agreement does not conflict with any "
        "other agreement or obligation by which it is bound.",
        "The Disclosing Party warrants that it has the right to disclose the Confidential "
        "Information that it discloses under this Agreement.",
        "Only those representations and warranties that are made in a definitive written "
        "agreement, if and when executed, shall have any legal effect.",
    ],
    "nonsolicit": [
        "For the duration of the Term and for <twelve (12)|six (6)> months thereafter, neither "
        "Party shall directly or indirectly solicit for employment any employee of the other "
        "Party with whom it had contact in connection with the Purpose.",
        "General solicitations of employment that are not specifically directed at employees of "
        "the other Party, such as public advertisements, shall not constitute a breach of this "
        "Section.",
        "Nothing in this Section shall prevent either Party from hiring any person who contacts "
        "it on his or her own initiative without any direct or indirect solicitation.",
        "Neither Party shall induce or attempt to induce any customer, supplier or licensor of "
        "the other Party to cease doing business with that Party by making use of Confidential "
        "Information.",
    ],
    "export": [
        "Each Party shall comply with all applicable export control and economic sanctions laws "
        "in connection with the disclosure, export or re-export of any Confidential "
        "Information.",
        "The Receiving Party shall not export, re-export or transfer any technical data "
        "received under this Agreement to any destination, end user or end use that is "
        "prohibited under applicable law.",
        "Each Party represents that neither it nor any of its Affiliates is listed on any "
        "sanctions list maintained by a competent governmental authority.",
        "The Disclosing Party shall inform the Receiving Party in writing if any Confidential "
        "Information is subject to export licensing requirements.",
    ],
    "security": [
        "The Receiving Party shall maintain administrative, physical and technical safeguards "
        "that are appropriate to the sensitivity of the Confidential Information it receives.",
        "Confidential Information transmitted electronically shall be encrypted in transit "
        "using industry-standard protocols and, where stored outside the Receiving Party's "
        "premises, encrypted at rest.",
        "The Receiving Party shall notify the Disclosing Party of any Security Incident without "
        "undue delay and shall provide such information as the Disclosing Party may reasonably "
        "request in order to assess its impact.",
        "Upon reasonable notice, the Disclosing Party may request a written description of the "
        "safeguards applied to its Confidential Information, and the Receiving Party shall "
        "provide that description within a reasonable time.",
        "Access credentials issued to a Representative shall be personal to that "
        "Representative and shall not be shared.",
        "Physical documents containing Confidential Information shall be kept in locked "
        "storage when not in use and shall not be removed from the Receiving Party's premises "
        "except for the Purpose.",
    ],
}

# ---------------------------------------------------------------------------------------
# Pools used only by the master services agreement.

MSA_POOLS: dict[str, list[str]] = {
    "services": [
        "The Supplier shall provide the Services described in each Statement of Work in "
        "accordance with this Agreement, the applicable Statement of Work and Good Industry "
        "Practice.",
        "Each Statement of Work shall be substantially in the form set out in Schedule 1 and "
        "shall become binding only when signed by an authorised representative of each Party.",
        "In the event of any conflict between the terms of this Agreement and a Statement of "
        "Work, the terms of this Agreement shall prevail unless the Statement of Work expressly "
        "states that it is intended to override a specific provision of this Agreement.",
        "Either Party may propose changes to the scope of the Services by submitting a Change "
        "Request, and no change shall be effective until the Parties have agreed it in "
        "writing.",
        "The Supplier shall respond to each Change Request within <ten (10)|five (5)> Business "
        "Days with an assessment of its impact on the Charges, the timetable and the Service "
        "Levels.",
        "The Supplier shall not suspend the performance of the Services pending the agreement "
        "of any Change Request.",
        "The Customer shall not be obliged to accept any Deliverable that does not conform in "
        "all material respects to the acceptance criteria set out in the relevant Statement of "
        "Work.",
        "The Customer shall notify the Supplier of its Acceptance or rejection of each "
        "Deliverable within the acceptance period specified in the relevant Statement of Work.",
        "If the Customer rejects a Deliverable, the Supplier shall correct the non-conformity "
        "and resubmit the Deliverable at no additional charge.",
        "Nothing in this Agreement shall oblige the Customer to enter into any Statement of "
        "Work or to purchase any minimum volume of Services.",
    ],
    "sla": [
        "The Supplier shall perform the Services so as to meet or exceed the Service Levels set "
        "out in the applicable Statement of Work.",
        "The Supplier shall measure its performance against the Service Levels and shall "
        "provide the Customer with a written performance report within <ten (10)|seven (7)> "
        "Business Days after the end of each calendar month.",
        "If the Supplier fails to meet a Service Level, the Customer shall be entitled to the "
        "Service Credits specified in the applicable Statement of Work.",
        "Service Credits are a price adjustment reflecting the reduced value of the Services and "
        "are without prejudice to any other right or remedy of the Customer.",
        "The aggregate Service Credits in any calendar month shall not exceed fifteen percent "
        "(15%) of the monthly Charges for the affected Services.",
        "The Supplier shall investigate the root cause of any Service Level failure and shall "
        "implement a remediation plan approved by the Customer, acting reasonably.",
        "Repeated Service Level failures in any three consecutive months shall constitute a "
        "material breach of this Agreement.",
    ],
    "governance": [
        "Each Party shall appoint a relationship manager who shall be its primary point of "
        "contact for all matters relating to this Agreement.",
        "The relationship managers shall meet at least monthly to review the performance of the "
        "Services, the status of each Statement of Work and any risks or issues that have "
        "arisen.",
        "The Supplier shall prepare and circulate the agenda and minutes of each meeting, and the "
        "minutes shall be deemed approved unless the Customer objects within <five (5)|seven "
        "(7)> Business Days of receiving them.",
        "Any matter that cannot be resolved by the relationship managers shall be escalated to a "
        "steering committee composed of one senior executive of each Party.",
        "The steering committee shall meet at least quarterly and shall have authority to approve "
        "changes to the governance procedures set out in this Section.",
        "The Supplier shall maintain a risk register for the Services and shall make it available "
        "to the Customer at each monthly meeting.",
        "The Supplier shall give the Customer reasonable advance notice of any planned "
        "maintenance that is likely to affect the availability of the Services.",
    ],
    "personnel": [
        "The Supplier shall ensure that all Supplier Personnel are suitably skilled, "
        "experienced and qualified to perform the tasks assigned to them.",
        "The Supplier shall not remove or replace any Key Personnel without the prior written "
        "consent of the Customer, except in the case of illness, resignation or termination of "
        "employment.",
        "The Supplier shall carry out appropriate background checks on all Supplier Personnel "
        "who will have access to the Customer's premises, systems or Customer Data.",
        "While on the Customer's premises, Supplier Personnel shall comply with the Customer's "
        "site rules, security procedures and health and safety policies as notified to the "
        "Supplier from time to time.",
        "The Customer may, on reasonable grounds, require the Supplier to remove any individual "
        "from the provision of the Services.",
        "The Supplier shall remain responsible for the payment of all remuneration, taxes and "
        "social security contributions in respect of Supplier Personnel.",
        "The Supplier shall not subcontract any of its obligations under this Agreement without "
        "the prior written consent of the Customer, and shall remain liable for the acts and "
        "omissions of its subcontractors as if they were its own.",
    ],
    "customer": [
        "The Customer shall provide the Supplier with timely access to such information, "
        "premises, systems and personnel as the Supplier reasonably requires to perform the "
        "Services.",
        "The Customer shall appoint a contract manager who shall have authority to make "
        "decisions on behalf of the Customer in relation to the Services.",
        "The Supplier shall not be liable for any failure to perform the Services to the "
        "extent that such failure is caused by the Customer's failure to comply with its "
        "obligations under this Section.",
        "The Supplier shall notify the Customer promptly if it becomes aware of any failure by "
        "the Customer to comply with its obligations that may affect the Services.",
        "The Customer shall ensure that any equipment or software it supplies for use in the "
        "Services is properly licensed and in good working order.",
        "The Customer shall be responsible for the accuracy and completeness of the "
        "instructions and data it provides to the Supplier.",
    ],
    "fees": [
        "In consideration of the provision of the Services, the Customer shall pay the Charges "
        "set out in the applicable Statement of Work.",
        "Unless otherwise stated in a Statement of Work, the Supplier shall invoice the Charges "
        "monthly in arrears, and each invoice shall include such supporting information as the "
        "Customer may reasonably require.",
        "The Customer shall pay each valid and undisputed invoice within <forty-five (45)|"
        "sixty (60)> days after the date of its receipt.",
        "All Charges are exclusive of value added tax and any other applicable sales taxes, "
        "which shall be payable by the Customer in addition at the prevailing rate.",
        "If the Customer disputes any invoice in good faith, it shall notify the Supplier in "
        "writing and shall pay the undisputed portion, and the Parties shall attempt to resolve "
        "the dispute in accordance with Section {ref:governing}.",
        "Interest on late payments shall accrue at the rate of two percent (2%) per annum above "
        "the base rate of the central bank of the currency of the invoice.",
        "The Supplier shall maintain complete and accurate records of the time spent and "
        "materials used in providing the Services and shall allow the Customer to inspect those "
        "records on reasonable notice.",
        "The Charges shall remain fixed for the first twelve (12) months of each Statement of "
        "Work and may thereafter be adjusted only by written agreement.",
    ],
    "ip": [
        "Each Party shall retain ownership of all Intellectual Property Rights that it owned "
        "before the Effective Date or that it develops independently of this Agreement.",
        "All Intellectual Property Rights in the Deliverables shall vest in the Customer upon "
        "payment of the Charges relating to them, and the Supplier hereby assigns those rights "
        "to the Customer with effect from such payment.",
        "The Supplier grants the Customer a non-exclusive, perpetual, royalty-free licence to "
        "use any Supplier background materials that are incorporated into the Deliverables, to "
        "the extent necessary to receive the full benefit of the Services.",
        "The Supplier shall obtain waivers of all moral rights in the Deliverables to which any "
        "individual is now or may in future be entitled.",
        "The Supplier shall not incorporate any open source software into a Deliverable "
        "without first informing the Customer of the applicable licence terms and obtaining its "
        "written approval.",
        "Nothing in this Agreement shall prevent the Supplier from using the general skills, "
        "knowledge and experience acquired in performing the Services, provided that it does "
        "not disclose Confidential Information of the Customer.",
    ],
    "warranties": [
        "The Supplier warrants that the Services will be performed with reasonable skill and "
        "care and in accordance with Good Industry Practice.",
        "The Supplier warrants that the Deliverables will conform in all material respects to "
        "their specifications for a period of <six (6)|three (3)> months following Acceptance.",
        "The Supplier warrants that the receipt and use of the Services and Deliverables by the "
        "Customer will not infringe the Intellectual Property Rights of any third party.",
        "Each Party warrants that it has full power and authority to enter into and perform "
        "this Agreement.",
        "The Supplier warrants that it holds, and will maintain throughout the Term, all "
        "licences, permits and consents required to perform the Services.",
        "Except as expressly stated in this Agreement, all warranties, conditions and other "
        "terms implied by statute or common law are excluded to the fullest extent permitted "
        "by law.",
    ],
    "indemnity": [
        "The Supplier shall indemnify the Customer against all losses, damages, costs and "
        "expenses arising out of any claim that the receipt or use of the Services or the "
        "Deliverables infringes the Intellectual Property Rights of a third party.",
        "The indemnified Party shall notify the indemnifying Party of any claim promptly, "
        "shall allow the indemnifying Party to conduct its defence and shall provide "
        "reasonable assistance at the indemnifying Party's expense.",
        "The indemnified Party shall not make any admission in relation to the claim without "
        "the prior written consent of the indemnifying Party.",
        "If any Deliverable becomes the subject of an infringement claim, the Supplier may at "
        "its option procure the right for the Customer to continue using it, or modify or "
        "replace it so that it is no longer infringing.",
        "The indemnity in this Section shall not apply to the extent that a claim arises from "
        "any modification of a Deliverable made by or on behalf of the Customer without the "
        "Supplier's authorisation.",
    ],
    "liability": [
        "Nothing in this Agreement shall limit or exclude either Party's liability for death or "
        "personal injury caused by its negligence, for fraud or fraudulent misrepresentation, "
        "or for any other liability which cannot be limited or excluded by law.",
        "Subject to the preceding sentence, neither Party shall be liable for any loss of "
        "profits, loss of business, depletion of goodwill or any indirect or consequential "
        "loss arising under or in connection with this Agreement.",
        "Each Party's total aggregate liability arising under or in connection with this "
        "Agreement in any contract year shall not exceed one hundred and twenty-five percent "
        "(125%) of the Charges paid or payable in that contract year.",
        "The limitation in this Section shall not apply to the Supplier's obligations under "
        "Section {ref:indemnity} or to either Party's breach of Section {ref:confidentiality}.",
        "Each Party shall use reasonable endeavours to mitigate any loss for which it is "
        "entitled to claim against the other Party.",
        "The Parties acknowledge that the Charges reflect the allocation of risk set out in "
        "this Section.",
    ],
    "insurance": [
        "The Supplier shall maintain in force, with a reputable insurance company, "
        "professional indemnity insurance, public liability insurance and employer's liability "
        "insurance in amounts that are customary for a supplier of services of this kind.",
        "The Supplier shall, on the Customer's request, produce the certificate of insurance "
        "giving details of the cover maintained under this Section.",
        "The Supplier shall notify the Customer promptly of any cancellation of, or material "
        "change to, any policy of insurance maintained under this Section.",
        "The maintenance of insurance shall not relieve the Supplier of any of its liabilities "
        "under this Agreement.",
    ],
    "exit": [
        "Upon termination or expiry of this Agreement, the Supplier shall provide such "
        "assistance as the Customer may reasonably require to transfer the Services to the "
        "Customer or to a replacement supplier.",
        "Exit assistance shall be charged at the rates set out in the applicable Statement of "
        "Work, or if no rates are specified, at the Supplier's standard rates then in force.",
        "The Supplier shall return all Customer Data to the Customer in a commonly used, "
        "machine-readable format and shall thereafter securely delete any copies it holds.",
        "The Supplier shall deliver to the Customer all Deliverables, whether complete or in "
        "progress, for which the Customer has paid.",
        "The Supplier shall cooperate in good faith with any replacement supplier and shall "
        "provide such information about the Services as that supplier may reasonably require.",
    ],
}
