"""``events``: a dataset's custom events (stored with it; ``forecast`` uses them) from the command line."""

from __future__ import annotations

from core.cli.common import add_common_args, emit, open_store
from core.errors import InputError

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "events", help="list, set, add or remove a dataset's custom events (forecast regressors, chart bands)",
        description="Without an option, lists the dataset's events. An event covers whole days START..END, "
                    "both inclusive (a one-day event has END = START); IMPACT is high_traffic, low_traffic or "
                    "outage. The built-in 1995 calendar always applies besides them.")
    p.add_argument("dataset_id", help="a stored dataset's id, or default")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--set", default=None, metavar="FILE",
                      help="replace them with the events of a .json or .csv file (date or start,end + name,impact)")
    what.add_argument("--add", default=None, metavar="NAME,START,END,IMPACT",
                      help="add one event, e.g. 'Summer sale,2024-07-01,2024-07-03,high_traffic'")
    what.add_argument("--remove", default=None, metavar="NAME", help="remove the event of that name")
    what.add_argument("--clear", action="store_true", help="remove them all")
    add_common_args(p)
    p.set_defaults(handler=_events)


def parse_add(text: str) -> dict:
    """``NAME,START,END,IMPACT`` as an event record (the name may hold commas: the last three fields split off).

    Raises:
        InputError: not four fields.
    """
    parts = [x.strip() for x in str(text).rsplit(",", 3)]
    if len(parts) != 4:
        raise InputError(f"--add takes NAME,START,END,IMPACT, got {text!r}; e.g. "
                         "--add 'Summer sale,2024-07-01,2024-07-03,high_traffic'")
    name, start, end, impact = parts
    return {"name": name, "start": start, "end": end, "impact": impact}


def _added(ds: str, current, record: dict) -> list:
    if any(e.name == record["name"] for e in current):
        raise InputError(f"dataset {ds} already has an event named {record['name']!r}; --remove it first or "
                         "choose another name")
    return [*current, record]


def _removed(ds: str, current, name: str) -> list:
    kept = [e for e in current if e.name != name]
    if len(kept) == len(current):
        names = ", ".join(repr(e.name) for e in current) or "none"
        raise InputError(f"dataset {ds} has no event named {name!r}; its events: {names}")
    return kept


def _events(args) -> int:
    from core.events import load_events

    store = open_store(args)
    ds = store.resolve_id(args.dataset_id) if args.dataset_id == "default" else args.dataset_id
    if args.set:
        events, done = store.set_events(ds, load_events(args.set)), f"set from {args.set}"
    elif args.add:
        record = parse_add(args.add)
        events, done = store.update_events(ds, lambda current: _added(ds, current, record)), \
            f"added {record['name']!r}"
    elif args.remove:
        events, done = store.update_events(ds, lambda current: _removed(ds, current, args.remove)), \
            f"removed {args.remove!r}"
    elif args.clear:
        events, done = store.set_events(ds, []), "cleared"
    else:
        events, done = store.events(ds), None
    rows = [f"{e.start} .. {e.end}  {e.impact:12s} {e.name}" for e in events]
    head = f"dataset {ds}: {len(events)} custom event{'s' if len(events) != 1 else ''}" + (f" ({done})" if done else "")
    emit(args, {"dataset_id": ds, "events": [e.to_dict() for e in events], "changed": done is not None},
         "\n".join([head, *rows]))
    return 0
