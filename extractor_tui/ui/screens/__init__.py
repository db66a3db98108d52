"""The app's screens, one per tab: each coordinates its widgets and talks to the controller."""
