"""The OpenAPI 3.1 document served at ``GET /api/openapi.json`` (hand-written, checked by the tests).

Every route of the API, the upload and the export blueprints is listed here;
``tests/dashapp/test_api.py`` compares this document with the server's routes
and validates it with ``openapi-spec-validator``.
"""

from __future__ import annotations

import core
from core.events import IMPACTS, MAX_EVENTS, MAX_NAME_CHARS
from core.registry import (
    DEPLOY_FORMATS,
    EXPORT_FORMATS,
    PROTOCOLS,
    TARGETS,
    accepted_model_names,
    policy_names,
    preset_names,
)

__all__ = ["openapi_document"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, example=None) -> dict:
    body = {"schema": schema}
    if example is not None:
        body["example"] = example
    return {"application/json": body}


def _errors(*codes: int) -> dict:
    text = {400: "Bad input: malformed JSON, a wrong type, an out-of-range value or an unknown field.",
            403: "Not permitted: the message names the permission needed (TRAFFIC_UPLOADERS / TRAFFIC_ADMINS).",
            404: "Unknown dataset or upload.", 405: "Method not allowed.", 413: "Body or array too large.",
            500: "Unexpected server error (a bug: the server log has details)."}
    return {str(c): {"description": text[c], "content": _json(_ref("Error"))} for c in codes}


_SERIES_PROPS = {
    "dataset_id": {"type": "string", "description": "A stored dataset (`GET /api/datasets`) or `default`.",
                   "example": "default"},
    "series": {"type": "array", "items": {"type": ["number", "null"], "minimum": 0}, "maxItems": 200000,
               "description": "Loads per period (null = no data), instead of dataset_id."},
    "interval_minutes": {"type": "number", "exclusiveMinimum": 0, "maximum": 1440, "default": 5,
                         "description": "Period of `series`."},
    "granularity": {"type": "string", "example": "5min",
                    "description": "Resample to this period (a whole multiple of the data's); datasets default 5min."},
    "start": {"type": "string", "description": "First period used (ISO 8601; the data's own offset if none)."},
    "end": {"type": "string", "description": "End of the window (exclusive)."},
}

_MODEL_PROPS = {
    "capacity_per_server_rps": {"type": "number", "exclusiveMinimum": 0, "default": 1 / 3,
                                "description": "Requests per second one server serves."},
    "price_per_server_hour": {"type": "number", "minimum": 0, "default": 0.85},
    "min_servers": {"type": "integer", "minimum": 1, "default": 1},
    "max_servers": {"type": "integer", "minimum": 1, "default": 100},
    "boot_delay_minutes": {"type": "number", "minimum": 0, "default": 5},
}

_CONFIG = {
    "oneOf": [
        {"type": "string", "enum": list(preset_names())},
        {"type": "object", "additionalProperties": False, "properties": {
            "preset": {"type": "string", "enum": list(preset_names())},
            "name": {"type": "string"},
            "scale_out_threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "scale_out_periods": {"type": "integer", "minimum": 1},
            "scale_in_threshold": {"type": "number", "minimum": 0, "maximum": 1},
            "scale_in_periods": {"type": "integer", "minimum": 1},
            "cooldown_minutes": {"type": "number", "minimum": 0},
            "step_out": {"type": "integer", "minimum": 1},
            "step_in": {"type": "integer", "minimum": 1},
        }},
    ],
    "description": "A preset name, or a preset with some numbers replaced.",
}

_POLICY = {"type": "string", "enum": list(policy_names())}


def _schemas() -> dict:
    return {
        "Error": {"type": "object", "required": ["status", "error", "message"], "properties": {
            "status": {"type": "integer"}, "error": {"type": "string"},
            "message": {"type": "string", "description": "What was wrong and how to fix it."},
            "field": {"type": "string", "description": "The offending field, when one is."}}},
        "Dataset": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "format": {"type": "string"},
            "start": {"type": "string"}, "end": {"type": "string"}, "interval_seconds": {"type": "integer"},
            "periods": {"type": "integer"}, "requests_total": {"type": "number"},
            "synthetic": {"type": "boolean"}, "default": {"type": "boolean"},
            "gaps": {"type": "array", "items": {"type": "object"}}}},
        "ForecastRequest": {"type": "object", "additionalProperties": False, "properties": {
            **_SERIES_PROPS,
            "model": {"type": "string", "enum": list(accepted_model_names()), "default": "seasonal_naive",
                      "description": "A model name; `sarima` is an alias of `fourier_arma`."},
            "horizon": {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string"}], "default": "1d",
                        "description": "Steps, or a duration like `7d` or `90min` (at most 30 days)."},
            "level": {"oneOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}, "maxItems": 10}],
                      "default": [80, 95], "description": "Interval levels in percent; [] for none."},
            "target": {"type": "string", "enum": list(TARGETS), "default": "requests"}}},
        "Forecast": {"type": "object", "description": "Also `lo-<level>` / `hi-<level>` arrays per level.",
                     "additionalProperties": True, "properties": {
                         "model": {"type": "string"}, "label": {"type": "string"},
                         "timestamps": {"type": "array", "items": {"type": "string"}},
                         "mean": {"type": "array", "items": {"type": "number"}},
                         "levels": {"type": "array", "items": {"type": "number"}},
                         "granularity_minutes": {"type": "number"}, "cached": {"type": "boolean"}}},
        "ScalingRequest": {"type": "object", "required": ["predicted_load", "current_servers"],
                           "additionalProperties": False, "properties": {
            "predicted_load": {"type": "array", "items": {"type": "number", "minimum": 0}, "minItems": 1,
                               "maxItems": 100000, "description": "Predicted requests per period."},
            "current_servers": {"type": "integer", "minimum": 0},
            "config": _CONFIG, "policy": {**_POLICY, "default": "predictive"},
            "sla_target": {"type": "number", "minimum": 0, "maximum": 100,
                           "description": "Max % of predicted periods over capacity; replaces the threshold rule."},
            "interval_minutes": {"type": "number", "exclusiveMinimum": 0, "maximum": 1440, "default": 5},
            "safety_margin": {"type": "number", "minimum": 0, "maximum": 10, "default": 0.1,
                              "description": "Provision the predicted peak x (1 + margin) (predictive policy)."},
            **_MODEL_PROPS}},
        "ScalingAction": {"type": "object", "required": ["action", "current_servers", "target_servers", "reason"],
                          "properties": {
            "action": {"type": "string", "enum": ["scale_out", "scale_in", "hold"]},
            "current_servers": {"type": "integer"}, "target_servers": {"type": "integer"},
            "reason": {"type": "string"}, "needed_servers": {"type": "integer"},
            "utilization_now": {"type": ["number", "null"]}, "utilization_after": {"type": ["number", "null"]}}},
        "CostRequest": {"type": "object", "additionalProperties": False, "properties": {
            **_SERIES_PROPS, "config": _CONFIG, "policy": {**_POLICY, "default": "balanced"}, **_MODEL_PROPS,
            "policy_config": {**_ref("PolicyConfig"),
                              "description": "A recommendation's policy; replaces config, policy and the model."}}},
        "PolicyConfig": {"type": "object", "required": ["policy", "config"], "properties": {
            "name": {"type": "string"}, "policy": _POLICY,
            "config": {"type": "object", "description": "Every parameter: the rule, the predictive settings, the "
                                                        "servers and the billing (as POST /api/recommend returns)."}}},
        "RecommendRequest": {"type": "object", "additionalProperties": False, "required": ["dataset_id"],
                             "properties": {
            "dataset_id": _SERIES_PROPS["dataset_id"], "granularity": _SERIES_PROPS["granularity"],
            "start": _SERIES_PROPS["start"], "end": _SERIES_PROPS["end"],
            "sla_pct": {"type": "number", "minimum": 0, "maximum": 100, "default": 1,
                        "description": "Largest share of overloaded periods, %."},
            "folds": {"type": "integer", "minimum": 1, "description": "Default 4 (weekly; daily if under 3 weeks)."},
            "test_start": {"type": "string", "description": "Start of the last fold's test window."},
            "budget": {"type": "integer", "minimum": 9, "default": 2000}, **_MODEL_PROPS}},
        "Recommendation": {"type": "object", "properties": {
            "recommended": {"oneOf": [_ref("PolicyConfig"), {"type": "null"}]}, "reason": {"type": "string"},
            "folds": {"type": "array", "items": {"type": "object"}}, "forecaster": {"type": "object"},
            "candidates": {"type": "object"}, "cached": {"type": "boolean"}}},
        "PlanRequest": {"type": "object", "additionalProperties": False, "required": ["dataset_id"], "properties": {
            "dataset_id": _SERIES_PROPS["dataset_id"], "granularity": _SERIES_PROPS["granularity"],
            "start": _SERIES_PROPS["start"], "end": _SERIES_PROPS["end"],
            "horizon": {"type": "string", "default": "7d", "description": "How far ahead: 1h .. 30d."},
            "origin": {"type": "string", "description": "First planned period (default: the end of the data); a "
                                                        "past origin adds the plan's backtest on the real traffic."},
            "sla_pct": {"type": "number", "minimum": 0, "maximum": 100, "default": 1},
            "paths": {"type": "integer", "minimum": 10, "maximum": 5000, "default": 200},
            "seed": {"type": "integer", "minimum": 0, "default": 0},
            "folds": {"type": "integer", "minimum": 1, "description": "Walk-forward folds behind the choice."},
            "budget": {"type": "integer", "minimum": 9, "default": 2000},
            "fan": {"type": "boolean", "default": False, "description": "Include the per-period forecast quantiles."},
            **_MODEL_PROPS}},
        "Plan": {"type": "object", "properties": {
            "origin": {"type": "string"}, "end": {"type": "string"}, "horizon": {"type": "string"},
            "recommended": {"type": "string"}, "reason": {"type": "string"},
            "policies": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "role": {"type": "string"}, "policy": _POLICY,
                "config": {"type": "object"},
                "cost": {"type": "object", "description": "p10, p50, p90 and mean, in $."},
                "p_sla_miss": {"type": "number"}, "overloaded_pct_expected": {"type": "number"},
                "peak_servers": {"type": "integer"},
                "schedule": {"type": "array", "items": {"type": "object", "properties": {
                    "hour": {"type": "string"}, "servers_p50": {"type": "integer"},
                    "servers_p90": {"type": "integer"}}}},
                "realized": {"type": ["object", "null"]}}}},
            "forecast": {"type": "object"}, "walk_forward": {"type": "object"},
            "backtest": {"type": ["object", "null"], "description": "With a past origin: realized_cost and "
                                                                    "realized_overloaded_pct per policy."},
            "cached": {"type": "boolean"}}},
        "CostReport": {"type": "object", "properties": {
            "scenario": {"type": "object"}, "baselines": {"type": "object"}, "savings": {"type": "object"},
            "sla": {"type": "object"}, "cost_vs_oracle": {"type": ["number", "null"]}, "meta": {"type": "object"}}},
        "Backtest": {"type": "object", "properties": {
            "dataset_id": {"type": "string"}, "protocol": {"type": "string"},
            "train": {"type": "object"}, "test": {"type": "object"},
            "results": {"type": "object", "description": "Per model: rmse, mae, mape, mase, coverage_80/95, ..."},
            "cached": {"type": "boolean"}}},
        "UploadJob": {"type": "object", "properties": {
            "upload_id": {"type": "string"}, "state": {"type": "string", "enum": ["queued", "running", "done",
                                                                                    "failed"]},
            "name": {"type": "string"}, "bytes": {"type": "integer"},
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "dataset_id": {"type": ["string", "null"]}, "duplicate": {"type": "boolean"},
            "report": {"type": ["object", "null"]}, "error": {"type": ["string", "null"]},
            "files": {"type": "array", "items": {"type": "object"},
                      "description": "The files of a multi-file upload: name and bytes of each."},
            "append_to": {"type": ["string", "null"], "description": "The dataset the files were added to."},
            "note": {"type": ["string", "null"], "description": "E.g. every file was already in the dataset."},
            "status_url": {"type": "string"}}},
    }


def _query(name: str, description: str, schema: dict | None = None, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


def openapi_document(max_upload_bytes: int = 500 * 1024 * 1024) -> dict:
    """The OpenAPI 3.1 description of every route."""
    ok = "200"
    paths = {
        "/api/openapi.json": {"get": {"operationId": "openapi", "summary": "This document.",
                                      "responses": {ok: {"description": "The OpenAPI document.",
                                                         "content": _json({"type": "object"})}}}},
        "/api/datasets": {"get": {
            "operationId": "listDatasets", "summary": "The store's datasets, newest first.",
            "responses": {ok: {"description": "Datasets.", "content": _json({"type": "object", "properties": {
                "datasets": {"type": "array", "items": _ref("Dataset")}}})}, **_errors(400)}}},
        "/api/forecast": {"post": {
            "operationId": "forecast", "summary": "Forecast a dataset or a posted series.",
            "requestBody": {"required": True, "content": _json(_ref("ForecastRequest"),
                                                               {"dataset_id": "default", "horizon": "1d"})},
            "responses": {ok: {"description": "Timestamps, mean and interval arrays.",
                               "content": _json(_ref("Forecast"))}, **_errors(400, 404, 413)}}},
        "/api/recommend-scaling": {"post": {
            "operationId": "recommendScaling", "summary": "Scale out, scale in or hold for a predicted load.",
            "requestBody": {"required": True, "content": _json(_ref("ScalingRequest"),
                                                               {"predicted_load": [120, 150, 180],
                                                                "current_servers": 2})},
            "responses": {ok: {"description": "The decision and its reason.",
                               "content": _json(_ref("ScalingAction"))}, **_errors(400, 413)}}},
        "/api/metrics": {"get": {
            "operationId": "metrics", "summary": "Backtest metrics of forecasting models on a dataset.",
            "parameters": [
                _query("dataset_id", "Dataset id or `default`.", required=True),
                _query("models", "Comma-separated models (default seasonal_naive,sarima,lightgbm)."),
                _query("protocol", "one-step (default), day-ahead or one-shot.",
                       {"type": "string", "enum": list(PROTOCOLS)}),
                _query("granularity", "Period, default 5min."),
                _query("train_end", "Last training period (default: all but the last 7 days)."),
                _query("test_end", "Last test period (default: the end)."),
                _query("target", "requests (default) or bytes.", {"type": "string", "enum": list(TARGETS)}),
            ],
            "responses": {ok: {"description": "The backtest report.", "content": _json(_ref("Backtest"))},
                          **_errors(400, 404)}}},
        "/api/cost-report": {"post": {
            "operationId": "costReport", "summary": "Cost, savings vs static fleets and SLA of a configuration.",
            "requestBody": {"required": True, "content": _json(_ref("CostRequest"),
                                                               {"dataset_id": "default", "config": "balanced",
                                                                "policy": "predictive"})},
            "responses": {ok: {"description": "The cost report.", "content": _json(_ref("CostReport"))},
                          **_errors(400, 404, 413)}}},
        "/api/recommend": {"post": {
            "operationId": "recommendPolicy",
            "summary": "Recommend a scaling policy by walk-forward validation (tuned before each cut, scored after).",
            "requestBody": {"required": True, "content": _json(_ref("RecommendRequest"),
                                                               {"dataset_id": "default", "sla_pct": 1})},
            "responses": {ok: {"description": "The recommendation, its reason and the folds.",
                               "content": _json(_ref("Recommendation"))}, **_errors(400, 404, 413)}}},
        "/api/plan": {"post": {
            "operationId": "capacityPlan",
            "summary": "What the next 1 hour - 30 days cost under each policy: cost p10/p50/p90, risk of missing the "
                       "SLA, hourly server schedule (and, from a past origin, what it really cost).",
            "requestBody": {"required": True, "content": _json(_ref("PlanRequest"),
                                                               {"dataset_id": "default", "horizon": "7d"})},
            "responses": {ok: {"description": "The plan.", "content": _json(_ref("Plan"))},
                          **_errors(400, 404, 413)}}},
        "/api/export-policy": {"get": {
            "operationId": "exportPolicy",
            "summary": "A scaling policy as a Kubernetes HPA, a KEDA ScaledObject (YAML) or AWS Auto Scaling requests "
                       "(JSON).",
            "description": "A preset `policy=CONFIG/POLICY`, else the walk-forward recommendation on `dataset` (or "
                           "its candidate named by `policy`); when none met the SLA the safest candidate is exported "
                           "and `X-Policy-Warning` says so. Each setting's mapping: docs/deploy.md.",
            "parameters": [
                _query("format", "Autoscaler.", {"type": "string", "enum": list(DEPLOY_FORMATS)}, required=True),
                _query("dataset", "Dataset id or `default` (for the recommendation or a candidate)."),
                _query("policy", "A preset as CONFIG/POLICY (e.g. `balanced/target_tracking`) or a candidate name; "
                                 "default: the recommended policy."),
                _query("granularity", "The period the policy is tuned at, default 5min."),
                _query("sla_pct", "Largest share of overloaded periods, % (default 1).",
                       {"type": "number", "minimum": 0, "maximum": 100}),
                _query("name", "Deployment or Auto Scaling group to scale (default web)."),
                _query("namespace", "Kubernetes namespace (default default)."),
            ],
            "responses": {ok: {"description": "The file, as an attachment.", "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
                **_errors(400, 404)}}},
        "/health": {"get": {"operationId": "health", "summary": "200 when the app can serve.",
                            "responses": {ok: {"description": "Healthy.", "content": _json({"type": "object"})}}}},
        "/upload": {
            "get": {"operationId": "uploadLimits", "summary": "Upload limits.",
                    "responses": {ok: {"description": "`max_bytes` and accepted formats.",
                                       "content": _json({"type": "object"})}}},
            "post": {
                "operationId": "upload",
                "summary": "Stream a log, CSV or TXT file (gzip/bz2 accepted), or several log files as multipart "
                           "parts (one dataset); ingested in the background.",
                "parameters": [_query("name", "Display name (sanitized; never used in a path)."),
                               _query("append", "A stored log dataset's id: the files are added to it as a new "
                                                "dataset (the old one stays).")],
                "requestBody": {"required": True, "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                                            "maxLength": max_upload_bytes}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                                 "description": "One part per file (at most 20), each within the upload limit."}}}}}},
                "responses": {"202": {"description": "Accepted; poll `status_url`.",
                                      "content": _json(_ref("UploadJob"))}, **_errors(400, 403, 413)}}},
        "/upload/{upload_id}": {"get": {
            "operationId": "uploadStatus", "summary": "State, progress, ingest report and dataset id of an upload.",
            "parameters": [{"name": "upload_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {ok: {"description": "The job.", "content": _json(_ref("UploadJob"))},
                          **_errors(400, 404)}}},
        "/export/{page}/{fmt}": {"get": {
            "operationId": "export",
            "summary": "Download what a page shows: its table (csv), numbers (json) or a standalone report (html).",
            "description": "Pass the page's own query string. `dataset` is built in (query: dataset, granularity "
                           "in minutes, start, end); other pages export when they offer it.",
            "parameters": [
                {"name": "page", "in": "path", "required": True, "schema": {"type": "string"},
                 "example": "dataset"},
                {"name": "fmt", "in": "path", "required": True,
                 "schema": {"type": "string", "enum": list(EXPORT_FORMATS)}},
                _query("dataset", "Dataset id (the dataset exporter and every page)."),
            ],
            "responses": {ok: {"description": "The file, as an attachment.", "content": {
                "text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}}}}, **_errors(400, 404, 413)}}},
    }
    paths.update(_compat_paths())
    paths.update(_events_paths())
    paths["/api/datasets/{dataset_id}"] = {"delete": {
        "operationId": "deleteDataset",
        "summary": "Delete a stored dataset by its id (only users in TRAFFIC_ADMINS, when it is set).",
        "parameters": [{"name": "dataset_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {ok: {"description": "Deleted.", "content": _json({"type": "object", "properties": {
            "deleted": {"type": "string"}}})}, **_errors(400, 403, 404)}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Traffic capacity workbench API", "version": core.__version__,
                 "description": "Forecasts, scaling recommendations, cost reports and uploads over the same core "
                                "as the Dash pages. Errors are JSON `{status, error, message}`; see docs/api.md."},
        "paths": paths,
        "components": {"schemas": {**_schemas(), **_event_schemas()}},
    }


def _compat_paths() -> dict:
    """The original dashboard's calls (:mod:`dashapp.web.compat`) and the interactive page (``/api/docs``)."""
    ok = "200"
    dataset = _query("dataset_id", "Dataset id or `default` (the default when absent).")
    series = [dataset, _query("granularity", "Period, default 5min."),
              _query("start", "First period used (ISO 8601)."), _query("end", "End of the window (exclusive).")]
    model = [_query(name, prop.get("description", name.replace("_", " ")) + f" Default {prop['default']:g}.",
                    {"type": prop["type"]}) for name, prop in _MODEL_PROPS.items()]
    return {
        "/forecast": {"post": {
            "operationId": "forecastOriginal",
            "summary": "The original API's forecast: fields as query parameters, the default dataset.",
            "description": "As `POST /api/forecast`, with the fields in the query string (or form fields; a JSON "
                           "body may add e.g. a `series`). A bare number as `horizon` is a number of steps.",
            "parameters": [*series,
                           _query("model", "Model (default seasonal_naive).",
                                  {"type": "string", "enum": list(accepted_model_names())}),
                           _query("horizon", "Steps, or a duration like `7d` (default 1d, at most 30 days).",
                                  {"type": "string", "example": "30"}),
                           _query("level", "Interval levels in percent, comma-separated (default 80,95).",
                                  {"type": "string", "example": "80,95"}),
                           _query("target", "requests (default) or bytes.", {"type": "string", "enum": list(TARGETS)})],
            "requestBody": {"required": False, "content": _json(_ref("ForecastRequest"))},
            "responses": {ok: {"description": "As `POST /api/forecast`.", "content": _json(_ref("Forecast"))},
                          **_errors(400, 404, 413)}}},
        "/metrics": {"get": {
            "operationId": "metricsOriginal",
            "summary": "The original API's metrics: backtest metrics (with R²) of the default dataset.",
            "description": "As `GET /api/metrics`, with `dataset_id` optional.",
            "parameters": [dataset,
                           _query("models", "Comma-separated models (default seasonal_naive,sarima,lightgbm)."),
                           _query("protocol", "one-step (default), day-ahead or one-shot.",
                                  {"type": "string", "enum": list(PROTOCOLS)}),
                           _query("granularity", "Period, default 5min."),
                           _query("train_end", "Last training period."), _query("test_end", "Last test period."),
                           _query("target", "requests (default) or bytes.", {"type": "string", "enum": list(TARGETS)})],
            "responses": {ok: {"description": "As `GET /api/metrics`.", "content": _json(_ref("Backtest"))},
                          **_errors(400, 404)}}},
        "/cost-report": {"get": {
            "operationId": "costReportOriginal",
            "summary": "The original API's cost report: a configuration on the default dataset, as a GET.",
            "description": "As `POST /api/cost-report`, with the fields as query parameters (`config` a preset name).",
            "parameters": [*series,
                           _query("config", "A preset (default balanced).", {"type": "string",
                                                                             "enum": list(preset_names())}),
                           _query("policy", "Policy (default balanced).", _POLICY), *model],
            "responses": {ok: {"description": "As `POST /api/cost-report`.", "content": _json(_ref("CostReport"))},
                          **_errors(400, 404)}}},
        "/api/docs": {"get": {
            "operationId": "apiDocs", "summary": "This document as an interactive page (Swagger UI, served locally).",
            "responses": {ok: {"description": "An HTML page.",
                               "content": {"text/html": {"schema": {"type": "string"}}}}}}},
    }


def _event_schemas() -> dict:
    """A dataset's custom events (``core.events``)."""
    day = {"type": "string", "format": "date", "example": "1995-07-13"}
    event = {"type": "object", "required": ["name", "impact"], "additionalProperties": False, "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS,
                 "description": "Unique within the dataset."},
        "start": {**day, "description": "First day (local to the data), YYYY-MM-DD."},
        "end": {**day, "description": "Last day, inclusive (default: start; a one-day event has end = start)."},
        "date": {**day, "description": "A one-day event's day, instead of start and end."},
        "impact": {"type": "string", "enum": list(IMPACTS)}}}
    return {
        "Event": event,
        "Events": {"type": "object", "properties": {
            "dataset_id": {"type": "string"},
            "events": {"type": "array", "items": event, "description": "The dataset's custom events."},
            "builtin": {"type": "array", "items": event,
                        "description": "The built-in calendar, which applies to every dataset as well."}}},
    }


def _events_paths() -> dict:
    """``GET``/``PUT /api/datasets/{dataset_id}/events``."""
    ok = "200"
    dataset = {"name": "dataset_id", "in": "path", "required": True, "schema": {"type": "string"},
               "description": "A stored dataset's id, or `default`."}
    example = {"events": [{"name": "Summer sale", "start": "1995-07-10", "end": "1995-07-12",
                           "impact": "high_traffic"}]}
    return {"/api/datasets/{dataset_id}/events": {
        "get": {
            "operationId": "getDatasetEvents",
            "summary": "The dataset's custom events (the forecasts' regressors and the charts' bands).",
            "parameters": [dataset],
            "responses": {ok: {"description": "Its events and the built-in calendar.",
                               "content": _json(_ref("Events"))}, **_errors(400, 404)}},
        "put": {
            "operationId": "putDatasetEvents",
            "summary": "Replace the dataset's custom events (only uploaders, when TRAFFIC_UPLOADERS is set).",
            "description": "The whole list, validated: a 400 names the bad event and field as `events[i].field` "
                           "(i from 0). The events are stored with the dataset (its id does not change) and "
                           "forecasts and pages computed with other events are not reused.",
            "parameters": [dataset],
            "requestBody": {"required": True, "content": _json({
                "type": "object", "required": ["events"], "additionalProperties": False, "properties": {
                    "events": {"type": "array", "items": _ref("Event"), "maxItems": MAX_EVENTS}}}, example)},
            "responses": {ok: {"description": "The events as stored.", "content": _json(_ref("Events"))},
                          **_errors(400, 403, 404, 413)}}}}
