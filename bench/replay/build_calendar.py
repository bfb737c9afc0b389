"""Write ``calendar.json`` from the annotations: final labels, then events named by the annotators, grouped.

An item's final labels are the two annotators' where they agree and the third's where they do not
(``annotations/third.jsonl``). Each positive item belongs to the event its annotators named; ``EVENTS`` below
maps those names (annotator A's wording, else B's) to one calendar event each, with the event's type,
countries and title in our words. An event is ambiguous when every item of it was marked ambiguous by an
annotator, or when the definitions leave it open (``open_question``). Every positive must land in an event.

    python bench/replay/build_calendar.py          # rewrites bench/replay/calendar.json
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = ("military_withdrawal", "coup", "peacekeeping_change")
COMMIT = "af4ff4024616c6f3952af73153ed777422cb6b35"

# (id, event type, countries, title, name pattern, definitions leave it open)
EVENTS: tuple[tuple[str, str, tuple[str, ...], str, str, bool], ...] = (
    (
        "lb-unifil-final-mandate",
        "peacekeeping_change",
        ("LB",),
        "UN Security Council extends UNIFIL a final time, its peacekeepers to leave Lebanon by 2027",
        r"^LB peacekeeping: (UNSC extends|UNIFIL mandate)",
        False,
    ),
    (
        "ge-overthrow-claim",
        "coup",
        ("GE",),
        "Georgia: the government says protesters attempted to overthrow it",
        r"^GE coup",
        True,
    ),
    (
        "un-peacekeeper-cut",
        "peacekeeping_change",
        (),
        "UN to cut about a quarter of its peacekeepers across missions for lack of funds",
        r"^XX peacekeeping",
        False,
    ),
    (
        "ps-gaza-pullback",
        "military_withdrawal",
        ("PS", "IL"),
        "Israeli army pulls back to the agreed line in Gaza under the ceasefire",
        r"^PS withdrawal",
        False,
    ),
    (
        "mg-coup",
        "coup",
        ("MG",),
        "Madagascar: the CAPSAT army unit takes power after President Rajoelina flees",
        r"^MG coup",
        False,
    ),
    (
        "ro-us-eastern-flank",
        "military_withdrawal",
        ("RO",),
        "United States reduce their troops in Romania and on NATO's eastern flank",
        r"^RO withdrawal",
        False,
    ),
    (
        "ps-isf-authorised",
        "peacekeeping_change",
        ("PS",),
        "UN Security Council authorises an International Stabilization Force for Gaza",
        r"^PS peacekeeping: UN Security Council authorises",
        False,
    ),
    (
        "gw-coup",
        "coup",
        ("GW",),
        "Guinea-Bissau: the military seize power and arrest President Embalo",
        r"^GW coup",
        False,
    ),
    (
        "bj-coup-attempt",
        "coup",
        ("BJ",),
        "Benin: a coup attempt against President Talon is foiled",
        r"^BJ coup",
        False,
    ),
    (
        "cd-south-kivu-retreat",
        "military_withdrawal",
        ("CD",),
        "Congolese and Burundian troops retreat into Burundi as M23 advances in South Kivu",
        r"^CD withdrawal",
        False,
    ),
    (
        "ua-siversk",
        "military_withdrawal",
        ("UA",),
        "Ukrainian army withdraws from Siversk",
        r"Siversk",
        False,
    ),
    (
        "ye-uae-exit",
        "military_withdrawal",
        ("YE",),
        "United Arab Emirates withdraw their troops from Yemen",
        r"^YE withdrawal",
        False,
    ),
    (
        "us-national-guard",
        "military_withdrawal",
        ("US",),
        "National Guard withdrawn from Chicago, Portland and Los Angeles",
        r"^US withdrawal: Trump withdraws National",
        True,
    ),
    (
        "ua-coalition-force",
        "peacekeeping_change",
        ("UA",),
        "Coalition of the Willing agrees a multinational force for Ukraine after a ceasefire",
        r"^UA peacekeeping",
        True,
    ),
    (
        "lb-unifil-drawdown",
        "peacekeeping_change",
        ("LB",),
        "UN confirms most UNIFIL peacekeepers leave Lebanon by mid-2027",
        r"^LB peacekeeping: UN confirms",
        False,
    ),
    (
        "ps-isf-contributors",
        "peacekeeping_change",
        ("PS", "ID", "MA"),
        "Indonesia and Morocco commit troops to the Gaza stabilization force",
        r"^PS peacekeeping: countries commit troops",
        False,
    ),
    (
        "ht-chad-gsf",
        "peacekeeping_change",
        ("HT", "TD"),
        "Chad sends 750 troops to the UN-backed Gang Suppression Force in Haiti",
        r"^HT peacekeeping",
        False,
    ),
    (
        "ua-sumy-villages",
        "military_withdrawal",
        ("UA",),
        "Ukrainian army pulls back from villages in Sumy oblast",
        r"Sumy",
        False,
    ),
    (
        "sy-us-exit",
        "military_withdrawal",
        ("SY",),
        "The last US troops leave Syria",
        r"^SY withdrawal",
        False,
    ),
    (
        "ml-africa-corps-kidal",
        "military_withdrawal",
        ("ML",),
        "Russia's Africa Corps and the Malian army withdraw from Kidal",
        r"^ML withdrawal: (Russian|Africa)",
        False,
    ),
    (
        "de-us-troops",
        "military_withdrawal",
        ("DE",),
        "United States to withdraw about 5,000 troops from Germany",
        r"^DE withdrawal",
        False,
    ),
    (
        "pl-us-cancel",
        "military_withdrawal",
        ("PL",),
        "United States cancel a 4,000-troop deployment to Poland",
        r"^PL withdrawal",
        False,
    ),
    (
        "eu-us-reduction",
        "military_withdrawal",
        (),
        "United States plan to withdraw part of their forces from Europe",
        r"^EU withdrawal",
        False,
    ),
    (
        "fr-carrier-home",
        "military_withdrawal",
        ("FR",),
        "The carrier Charles de Gaulle leaves the Middle East for Toulon after the Iran-US accord",
        r"^FR withdrawal",
        False,
    ),
    (
        "lb-zawtar",
        "military_withdrawal",
        ("LB", "IL"),
        "Israeli army pulls out of Zawtar in southern Lebanon",
        r"^LB withdrawal",
        False,
    ),
    (
        "ps-isf-entry",
        "peacekeeping_change",
        ("PS", "IL"),
        "Israel approves the entry of the International Stabilization Force into Gaza",
        r"^PS peacekeeping: Israel approves",
        False,
    ),
    (
        "bj-ecowas-force",
        "peacekeeping_change",
        ("BJ",),
        "ECOWAS orders its standby force into Benin after the coup attempt",
        r"^BJ coup",
        True,
    ),
)


def _rows(name: str) -> dict[str, dict]:
    path = HERE / "annotations" / f"{name}.jsonl"
    return {row["item_id"]: row for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def build() -> dict:
    selection, a, b, third = (_rows(n) for n in ("selection", "annotator-a", "annotator-b", "third"))
    events: dict[str, dict] = {}
    placed: set[tuple[str, str]] = set()
    for item_id, row in selection.items():
        x, y = a[item_id], b[item_id]
        agreed = all(x[label] == y[label] for label in LABELS)
        final = x if agreed else third[item_id]
        name = x["event"] or y["event"]
        for label in LABELS:
            if not final[label]:
                continue
            matches = [e for e in EVENTS if e[1] == label and re.search(e[4], name)]
            if len(matches) != 1:
                raise SystemExit(f"{item_id} {label} {name!r}: {len(matches)} events match")
            event_id, event_type, countries, title, _, open_question = matches[0]
            event = events.setdefault(
                event_id,
                {
                    "id": event_id,
                    "event_type": event_type,
                    "countries": list(countries),
                    "title": title,
                    "days": [],
                    "items": [],
                    "all_ambiguous": True,
                    "open_question": open_question,
                },
            )
            event["days"].append(row["date"])
            event["items"].append(item_id)
            event["all_ambiguous"] &= bool(x["ambiguous"] or y["ambiguous"] or not agreed)
            placed.add((item_id, label))
    out = []
    for event in events.values():
        out.append(
            {
                "id": event["id"],
                "event_type": event["event_type"],
                "countries": event["countries"],
                "first_day": min(event["days"]),
                "last_day": max(event["days"]),
                "title": event["title"],
                "ambiguous": event["all_ambiguous"] or event["open_question"],
                "items": sorted(event["items"]),
            }
        )
    out.sort(key=lambda e: (e["first_day"], e["id"]))
    return {
        "archive": f"antoninfaure/rssTrends@{COMMIT}, data/ 2025-09-01..2026-08-31",
        "labelled_items": len(selection),
        "events": out,
    }


if __name__ == "__main__":
    calendar = build()
    (HERE / "calendar.json").write_text(
        json.dumps(calendar, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    for event in calendar["events"]:
        flag = "ambiguous" if event["ambiguous"] else ""
        print(f"{event['first_day']} {event['last_day']} {event['id']:24} {len(event['items']):3} {flag}")
