"""Data page: the datasets in the store (placeholder until the pages issue lands)."""

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask import current_app

from core.store import DatasetStore

dash.register_page(__name__, path="/", name="Data", title="Data · Traffic workbench")


def layout(**_query):
    settings = current_app.config["TRAFFIC_SETTINGS"]
    store = DatasetStore(settings.data_dir)
    store.default_id()
    rows = [
        html.Tr([html.Td(d.name), html.Td(d.format), html.Td(f"{d.start[:16]} .. {d.end[:16]}"),
                 html.Td(f"{d.interval_seconds // 60} min"), html.Td("synthetic" if d.synthetic else "real")])
        for d in store.list()
    ]
    head = html.Thead(html.Tr([html.Th(h) for h in ("Name", "Format", "Range", "Interval", "Kind")]))
    return html.Div([html.H3("Datasets"), dbc.Table([head, html.Tbody(rows)], id="data-table", striped=True)])
