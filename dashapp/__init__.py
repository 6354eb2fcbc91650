"""The Plotly Dash front end: thin pages and callbacks over ``core``."""
