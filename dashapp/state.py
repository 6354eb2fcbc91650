"""The URL contract: every page's query parameters, parsed, validated and written back.

Each page module declares its parameters once, as a tuple of ``Param`` handed to
``dash.register_page(..., params=PARAMS)``; ``params_of(page)`` reads them back
from ``dash.page_registry`` (filled when Dash imports the pages, i.e. by
``create_app``). A ``Param`` also describes its control (kind, label, bounds,
choices), from which ``components.layout`` builds the widget and
``components.urlsync`` the URL writer. Parameters several pages share are
constants here (``DATASET``, ``granularity()``, ``window()``, ``RULE``,
``SERVERS``, ``EVENTS``, ``ANOMALIES``).

A page is defined by its query string. ``parse_query(page, query)`` turns the
raw parameters (as Dash passes them to ``layout(**query)``: strings, or lists
for repeated keys) into typed values and a list of warnings; anything invalid
or unknown falls back to its default with a warning naming it, so a bad URL
never breaks a page. ``to_search(page, values)`` writes canonical values back
(defaults omitted, except the dataset). The ``resolve_*`` helpers finish the
validation that needs the dataset (granularity, window, horizon, origin) and
build ``core`` configurations.

Warnings quote user input only shortened (``shown``); Dash renders them as
text, never as HTML.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, replace
from urllib.parse import urlencode

import dash
import pandas as pd

from core.errors import InputError
from core.forecast import parse_horizon, parse_levels
from core.registry import GRANULARITY_MINUTES
from core.scaling import PRESETS, CapacityModel, CostModel, Policy, SimulationModel
from core.scaling.whatif import LoadTransform, Spike
from core.store import ID_RE, DatasetStore
from dashapp.figures import RATE_UNITS
from dashapp.labels import labels

__all__ = [
    "GRANULARITIES",
    "CONTROLS",
    "Param",
    "params_of",
    "page_name",
    "page_names",
    "DATASET",
    "granularity",
    "window",
    "EVENTS",
    "ANOMALIES",
    "UNIT",
    "RULE",
    "SERVERS",
    "CAPACITY_PER_MINUTE",
    "per_second",
    "Parsed",
    "MAX_VALUE_CHARS",
    "parse_query",
    "to_search",
    "shown",
    "resolve_dataset",
    "resolve_granularity",
    "resolve_window",
    "resolve_horizon",
    "resolve_origin",
    "sim_model",
    "whatif_inputs",
    "query_from_search",
    "search_from_controls",
    "format_time",
    "defaults",
]

#: Longest value read at all; longer ones are ignored with a warning.
MAX_VALUE_CHARS = 200
#: Warnings shown at most (the rest are counted).
MAX_WARNINGS = 8
GRANULARITIES = tuple(str(m) for m in GRANULARITY_MINUTES)
METRICS = ("requests", "bytes", "error_rate")
#: Widgets a parameter's control can be ("" in ``Param.control``: chosen by its kind).
CONTROLS = ("number", "slider", "select", "radio", "switch", "text", "none")
_KIND_CONTROL = {"float": "number", "int": "number", "choice": "select", "bool": "switch", "time": "text",
                 "horizon": "text", "levels": "text", "dataset": "none"}

_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?$")
_HORIZON_RE = re.compile(r"^(\d{1,6}|\d{1,5}(\.\d{1,3})?\s*(min|h|d))$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def shown(value, limit: int = 40) -> str:
    """A short, quoted rendering of user input for messages."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text)} characters)"
    return repr(text)


@dataclass(frozen=True)
class Param:
    """One query parameter and the control that edits it.

    Attributes:
        key: the query key (the control's id is ``ids.control(page, key)``).
        kind: ``float``, ``int``, ``choice``, ``bool``, ``time``, ``horizon``, ``levels`` or ``dataset``.
        default: used when absent or invalid (None = decided by the page, e.g. the whole series).
        lo, hi: inclusive bounds for numbers (also the control's bounds).
        choices: allowed values for ``choice``.
        aliases: other names still accepted for a choice, ``(alias, choice)`` pairs (old bookmarks keep working;
            the URL is written back with the choice).
        label: what the control is called on the page.
        control: the widget, one of ``CONTROLS``; "" picks it from the kind (numbers: ``number``, choices:
            ``select``, bools: ``switch``, times/horizons/levels: ``text``, datasets: ``none``).
        choice_labels: what the control shows for each of ``choices`` (default: the choices themselves).
        placeholder: shown in an empty text control.
        help: a line of help under the control.
        step: a slider's step (number inputs step by 1 for ``int``, freely for ``float``).
        marks: a slider's ``(value, label)`` marks.
    """

    key: str
    kind: str
    default: object = None
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    label: str = ""
    _: KW_ONLY
    aliases: tuple[tuple[str, str], ...] = ()
    control: str = ""
    choice_labels: tuple[str, ...] = ()
    placeholder: str = ""
    help: str = ""
    step: float | None = None
    marks: tuple[tuple[float, str], ...] = ()

    def __post_init__(self):
        if self.kind not in _KIND_CONTROL:
            raise ValueError(f"parameter {self.key!r}: kind must be one of {', '.join(_KIND_CONTROL)}, "
                             f"got {self.kind!r}")
        if self.control and self.control not in CONTROLS:
            raise ValueError(f"parameter {self.key!r}: control must be one of {', '.join(CONTROLS)}, "
                             f"got {self.control!r}")
        if self.choice_labels and len(self.choice_labels) != len(self.choices):
            raise ValueError(f"parameter {self.key!r}: {len(self.choice_labels)} choice_labels for "
                             f"{len(self.choices)} choices; give one label per choice")

    @property
    def widget(self) -> str:
        """The control's widget (``control``, or the one for the kind)."""
        return self.control or _KIND_CONTROL[self.kind]

    def options(self) -> list[tuple[str, str]]:
        """``(value, label)`` of each choice."""
        return list(zip(self.choices, self.choice_labels or self.choices, strict=True))

    def parse(self, raw):
        """The typed value of ``raw`` (a string or, for ``levels``, a list), or ValueError."""
        k = self.kind
        if k == "levels":
            items = raw if isinstance(raw, list) else [raw]
            if len(items) > 4:
                raise ValueError("at most 4 levels")
            text = ",".join(str(i) for i in items)
            try:
                levels = parse_levels(text)
            except InputError as exc:
                raise ValueError(str(exc).split(";")[0]) from None
            if not levels or len(levels) > 4:
                raise ValueError("give 1 to 4 levels between 0 and 100, e.g. 80,95")
            return levels
        text = str(raw).strip()
        if k in ("float", "int"):
            try:
                v = float(text)
            except ValueError:
                raise ValueError("not a number") from None
            if not math.isfinite(v):
                raise ValueError("not a finite number")
            if k == "int":
                if not v.is_integer():
                    raise ValueError("must be a whole number")
                v = int(v)
            if (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
                raise ValueError(f"must be between {self.lo:g} and {self.hi:g}")
            return v
        if k == "choice":
            v = text.lower()
            v = dict(self.aliases).get(v, v)
            if v not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}")
            return v
        if k == "bool":
            v = text.lower()
            if v in _TRUE:
                return True
            if v in _FALSE:
                return False
            raise ValueError("must be 1 or 0")
        if k == "time":
            if not _TIME_RE.match(text):
                raise ValueError("must be a date or time like 1995-07-10 or 1995-07-10T12:00")
            try:
                ts = pd.Timestamp(text)
            except ValueError:
                raise ValueError("not a valid date") from None
            return format_time(ts)
        if k == "horizon":
            if not _HORIZON_RE.match(text.lower()):
                raise ValueError("must be a number of steps or a duration like 90min, 12h or 7d")
            return text.lower().replace(" ", "")
        if k == "dataset":
            if not ID_RE.match(text):
                raise ValueError("ids are 3-64 characters of a-z, 0-9 and '-'")
            return text
        raise AssertionError(f"unknown parameter kind {k}")

    def format(self, value) -> str:
        if self.kind == "float":
            return f"{value:g}"
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "levels":
            return ",".join(f"{v:g}" for v in value)
        return str(value)

    def describe(self, value) -> str:
        if value is None:
            return "the default dataset" if self.kind == "dataset" else "automatic"
        return self.format(value)


def format_time(ts: pd.Timestamp) -> str:
    """``YYYY-MM-DD`` at midnight, else ``YYYY-MM-DDTHH:MM`` (local to the series, no offset)."""
    ts = pd.Timestamp(ts)
    if ts.tz is not None:
        ts = ts.tz_localize(None)
    if ts == ts.normalize():
        return ts.strftime("%Y-%m-%d")
    return ts.strftime("%Y-%m-%dT%H:%M")


# -- parameters several pages share (each page lists its own in its module) ------------------------

#: The selected dataset: every page has it; the navbar carries it from page to page.
DATASET = Param("dataset", "dataset", label="Dataset")
#: Whether the charts mark events and anomalies (a page may change the default with ``dataclasses.replace``).
EVENTS = Param("events", "bool", True, label="Events")
ANOMALIES = Param("anomalies", "bool", True, label="Anomalies")
#: The rate charts' unit: per second by default (what ops dashboards and load balancers show, and the same line
#: at every granularity, so 5- and 60-minute charts compare), or per period as counted.
UNIT = Param("unit", "choice", "rps", choices=RATE_UNITS, label="Rate unit",
             choice_labels=("per second", "per period"), control="radio")
#: The scaling rule: a configuration preset and a policy.
RULE = (
    Param("config", "choice", "balanced", choices=tuple(PRESETS), label="Configuration",
          choice_labels=labels(PRESETS)),
    Param("policy", "choice", "balanced", choices=tuple(p.value for p in Policy), label="Policy",
          choice_labels=labels(p.value for p in Policy)),
)
#: One server's capacity as the pages take it: requests per minute (20 = core's default of 1/3 request/s).
CAPACITY_PER_MINUTE = 20.0


def per_second(capacity_per_minute: float) -> float:
    """The capacity control's value (requests per minute per server) as the simulator takes it (per second)."""
    return capacity_per_minute / 60.0


CAPACITY_HELP = (f"requests one server handles per minute; the charts show requests per second (or per period): "
                 f"{CAPACITY_PER_MINUTE:g}/min = {per_second(CAPACITY_PER_MINUTE):.2f}/s")
#: The servers and their price (``sim_model`` builds the simulation model from them).
SERVERS = (
    Param("price", "float", 0.85, 0.0, 1000.0, label="Price per server-hour ($)"),
    # Per minute, not per second like the charts: the simulator takes requests/s (sim_model divides by 60).
    Param("capacity", "float", CAPACITY_PER_MINUTE, 0.01, 1e6, label="Capacity per server (requests per minute)",
          help=CAPACITY_HELP),
    Param("min", "int", 1, 1, 10_000, label="Min servers"),
    Param("max", "int", 100, 1, 100_000, label="Max servers"),
    Param("boot", "float", 5.0, 0.0, 1440.0, label="Boot delay (minutes)"),
)


def granularity(default: str) -> Param:
    """The period length in minutes, one of ``GRANULARITIES`` (radio buttons)."""
    return Param("granularity", "choice", default, choices=GRANULARITIES, label="Granularity (minutes)",
                 control="radio")


def window(start_placeholder: str) -> tuple[Param, Param]:
    """The time window ``start`` .. ``end`` (empty: the data's ends)."""
    return (Param("start", "time", label="Window start", placeholder=start_placeholder),
            Param("end", "time", label="Window end", placeholder="(end of the data)"))


# -- the pages' declarations, read from Dash's page registry ---------------------------------------


def page_name(entry: Mapping) -> str:
    """A ``dash.page_registry`` entry's page name: its module's last part (``pages.what_if`` -> ``what_if``)."""
    return entry["module"].rsplit(".", 1)[-1]


def page_names() -> tuple[str, ...]:
    """The registered pages, in their declared ``order`` (the order of ``dash.page_registry``)."""
    return tuple(page_name(e) for e in dash.page_registry.values())


def params_of(page: str) -> tuple[Param, ...]:
    """The parameters ``page`` declared: ``dash.register_page(__name__, ..., params=PARAMS)`` in its module.

    Raises:
        KeyError: no such page is registered (Dash registers the pages when the app is created, and
            ``dash.register_page`` works only after that: tests use the app fixture), or it declares none.
    """
    for entry in dash.page_registry.values():
        if page_name(entry) == page:
            if "params" not in entry:
                raise KeyError(f"page {page!r} declares no parameters; pass params=(Param(...), ...) "
                               "to its dash.register_page call")
            return entry["params"]
    known = ", ".join(page_names()) or "none: the Dash app (create_app) has not imported the pages yet"
    raise KeyError(f"unknown page {page!r}; registered pages: {known}")


@dataclass
class Parsed:
    """Typed values of one page's parameters and the warnings raised while reading them."""

    page: str
    values: dict
    warnings: list[str]

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def shown_warnings(self) -> list[str]:
        """At most MAX_WARNINGS messages, the rest counted."""
        w = self.warnings
        if len(w) <= MAX_WARNINGS:
            return list(w)
        return w[:MAX_WARNINGS] + [f"… and {len(w) - MAX_WARNINGS} more ignored parameters"]

    def search(self) -> str:
        return to_search(self.page, self.values)


def _spec(page: str) -> dict[str, Param]:
    params = params_of(page)
    spec = {p.key: p for p in params}
    if len(spec) != len(params):
        dup = sorted({p.key for p in params if sum(q.key == p.key for q in params) > 1})
        raise ValueError(f"page {page!r} declares the parameter(s) {', '.join(dup)} more than once; "
                         "declare each key once")
    return spec


def defaults(page: str) -> dict:
    return {p.key: p.default for p in params_of(page)}


def parse_query(page: str, query: dict | None) -> Parsed:
    """Typed values for ``page`` from Dash's query dict; never raises on user input."""
    spec = _spec(page)
    out = Parsed(page, defaults(page), [])
    unknown = [k for k in (query or {}) if k not in spec]
    if unknown:
        names = ", ".join(shown(k, 20) for k in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5
                                                                 else "")
        out.warn(f"Unknown parameter{'s' if len(unknown) > 1 else ''} {names} ignored.")
    for key, p in spec.items():
        raw = (query or {}).get(key)
        if raw is None:
            continue
        if isinstance(raw, (list, tuple)) and p.kind != "levels":
            out.warn(f"{key} was given {len(raw)} times; the first value is used.")
            raw = raw[0] if raw else ""
        if isinstance(raw, (list, tuple)):
            raw = [str(r) for r in raw]
            too_long = sum(len(r) for r in raw) > MAX_VALUE_CHARS
        else:
            raw = str(raw)
            too_long = len(raw) > MAX_VALUE_CHARS
        if too_long:
            out.warn(f"{key} ignored: the value is too long ({len(str(raw))} characters); "
                     f"using {p.describe(p.default)}.")
            continue
        if raw == "" or raw == []:
            continue
        try:
            out.values[key] = p.parse(raw)
        except ValueError as exc:
            out.warn(f"{key}={shown(raw if isinstance(raw, str) else ','.join(raw))} ignored: {exc}; "
                     f"using {p.describe(p.default)}.")
    return out


def to_search(page: str, values: dict) -> str:
    """``?key=value&...`` for the values that differ from the defaults (the dataset always)."""
    pairs = []
    for p in params_of(page):
        v = values.get(p.key)
        if v is None:
            continue
        if p.key != "dataset" and _same(v, p.default):
            continue
        pairs.append((p.key, p.format(v)))
    return "?" + urlencode(pairs) if pairs else ""


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return b is not None and math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


# -- validation that needs the dataset ------------------------------------------------------------


def resolve_dataset(store: DatasetStore, parsed: Parsed) -> str:
    """The dataset id to show: the requested one if it exists, else the default (with a warning)."""
    want = parsed.values.get("dataset")
    if want and store.exists(want):
        return want
    default = store.default_id()
    if want and want != "default":
        parsed.warn(f"dataset {shown(want)} not found; showing the default dataset.")
    parsed.values["dataset"] = default
    return default


def resolve_granularity(parsed: Parsed, interval_seconds: int) -> int:
    """Minutes per period: the requested granularity if it is a multiple of the data's interval."""
    want = int(parsed.values["granularity"])
    base = max(1, int(round(interval_seconds / 60)))
    if want * 60 % max(1, interval_seconds) == 0:
        return want
    for g in GRANULARITIES:
        if int(g) * 60 % max(1, interval_seconds) == 0:
            parsed.warn(f"granularity {want} min is finer than this dataset's {base}-minute interval; using {g} min.")
            parsed.values["granularity"] = g
            return int(g)
    parsed.warn(f"this dataset's interval ({interval_seconds} s) fits none of {', '.join(GRANULARITIES)} min; "
                "using its own interval.")
    return base


def resolve_window(parsed: Parsed, series_start: pd.Timestamp, series_end: pd.Timestamp
                   ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` inside the series (tz-aware); invalid bounds fall back to the series' ends."""
    tz = series_start.tz

    def ts(key):
        v = parsed.values.get(key)
        if v is None:
            return None
        t = pd.Timestamp(v)
        return t.tz_localize(tz) if t.tz is None else t

    start, end = ts("start"), ts("end")
    if start is not None and not series_start <= start < series_end:
        parsed.warn(f"start {parsed.values['start']} is outside the data ({format_time(series_start)} .. "
                    f"{format_time(series_end)}); using the beginning.")
        parsed.values["start"], start = None, None
    if end is not None and not series_start < end <= series_end:
        if end > series_end and start is not None:
            end = None  # past the end: the data's end, silently (bookmarks of growing datasets)
        else:
            parsed.warn(f"end {parsed.values['end']} is outside the data; using the end of the data.")
            parsed.values["end"], end = None, None
    lo, hi = start or series_start, end or series_end
    if hi <= lo:
        parsed.warn(f"end {parsed.values.get('end')} is not after start {parsed.values.get('start')}; "
                    "showing the whole dataset.")
        parsed.values["start"] = parsed.values["end"] = None
        lo, hi = series_start, series_end
    return lo, hi


def resolve_horizon(parsed: Parsed, interval: pd.Timedelta) -> int:
    """Forecast steps for the horizon; an invalid one falls back to one day (or one step)."""
    text = parsed.values["horizon"]
    value = int(text) if text.isdigit() else text
    try:
        return parse_horizon(value, interval)
    except InputError as exc:
        reason = re.sub(r"^horizon ('[^']*' |\d+ )?", "", str(exc).split(";")[0])  # core names the horizon too
        parsed.warn(f"horizon {shown(text)} ignored: it {reason}; using 1d.")
        parsed.values["horizon"] = "1d"
        return parse_horizon("1d", interval)


def resolve_origin(parsed: Parsed, series_start: pd.Timestamp, series_end: pd.Timestamp,
                   interval: pd.Timedelta) -> pd.Timestamp:
    """Where the forecast starts: the end of the data (a forecast of the future), or the URL's ``origin`` when
    it leaves at least 3 days of history before it (the training data). The Forecast page backtests a
    forecast from the end on the default split's test window (``core.forecast.split``) beside it."""
    default = series_end
    v = parsed.values.get("origin")
    if v is None:
        return default
    t = pd.Timestamp(v)
    t = t.tz_localize(series_start.tz) if t.tz is None else t
    if t - series_start < pd.Timedelta(days=3) or t > series_end:
        parsed.warn(f"origin {v} leaves less than 3 days of history or is after the data "
                    f"({format_time(series_start)} .. {format_time(series_end)}); using {format_time(default)}.")
        parsed.values["origin"] = None
        return default
    # Snap to the grid so that the forecast continues the series' own periods.
    steps = (t - series_start) // interval
    return series_start + steps * interval


def sim_model(parsed: Parsed) -> SimulationModel:
    """The simulation model from price, capacity, min, max and boot; conflicts fall back to defaults."""
    v = parsed.values
    try:
        cap = CapacityModel(capacity_per_server_rps=per_second(v["capacity"]), min_servers=v["min"],
                            max_servers=v["max"], boot_delay_minutes=v["boot"])
    except ValueError as exc:
        parsed.warn(f"server settings ignored: {exc}; using the defaults.")
        for k in ("capacity", "min", "max", "boot"):
            v[k] = _spec(parsed.page)[k].default
        cap = CapacityModel(capacity_per_server_rps=per_second(v["capacity"]), min_servers=v["min"],
                            max_servers=v["max"], boot_delay_minutes=v["boot"])
    return SimulationModel(capacity=cap, cost=CostModel(price_per_server_hour=v["price"]))


def whatif_inputs(parsed: Parsed, series_start: pd.Timestamp, series_end: pd.Timestamp
                  ) -> tuple[LoadTransform, dict]:
    """The load transform and model overrides of the what-if page."""
    v = parsed.values
    spikes = ()
    if v.get("spike") is not None:
        t = pd.Timestamp(v["spike"])
        t = t.tz_localize(series_start.tz) if t.tz is None else t
        if not series_start <= t < series_end:
            parsed.warn(f"spike start {v['spike']} is outside the data; no spike injected.")
            v["spike"] = None
        else:
            spikes = (Spike(t, v["spike_min"], v["spike_mag"], v["spike_shape"]),)
    transform = LoadTransform(multiplier=v["mult"], spikes=spikes, weekly_growth_pct=v["growth"])
    model = sim_model(parsed)
    overrides = dict(price_per_server_hour=model.cost.price_per_server_hour,
                     capacity_per_server_rps=model.capacity.capacity_per_server_rps,
                     min_servers=model.capacity.min_servers, max_servers=model.capacity.max_servers,
                     boot_delay_minutes=model.capacity.boot_delay_minutes)
    return transform, overrides


def with_values(parsed: Parsed, **changes) -> Parsed:
    """A copy with some values replaced (for links between pages)."""
    return replace(parsed, values={**parsed.values, **changes}, warnings=list(parsed.warnings))


def query_from_search(search: str | None) -> dict:
    """Dash's query dict for a ``?a=1&b=2`` string (a repeated key becomes a list)."""
    from urllib.parse import parse_qs

    text = (search or "").lstrip("?")
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=500)
    except ValueError:  # absurdly many fields: read none of them
        return {}
    return {k: v[0] if len(v) == 1 else v for k, v in parsed.items()}


def search_from_controls(page: str, raw: dict) -> str:
    """The query string for control values: valid ones canonical (defaults dropped), invalid ones kept
    as typed so that the page shows its warning after the round trip."""
    pairs = []
    for p in params_of(page):
        v = raw.get(p.key)
        if v is None or v == "" or (isinstance(v, (list, tuple)) and not v and p.kind != "bool"):
            continue
        if p.kind == "bool" and isinstance(v, (list, tuple)):  # a checklist: checked = non-empty
            v = bool(v)
        if isinstance(v, bool):
            v = "1" if v else "0"
        try:
            value = p.parse([str(i) for i in v] if isinstance(v, (list, tuple)) else str(v))
        except ValueError:
            pairs.append((p.key, ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)))
            continue
        if p.key != "dataset" and _same(value, p.default):
            continue
        pairs.append((p.key, p.format(value)))
    return "?" + urlencode(pairs) if pairs else ""
