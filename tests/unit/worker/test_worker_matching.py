"""Matching rules on the demo's stories: the splits seen in `newswatch demo` merge, near misses stay apart."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from newswatch.contracts import Candidate, EventType
from newswatch.worker.alerts import AlertBook
from newswatch.worker.matching import (
    EventProfile,
    Report,
    entities_of,
    headline_countries,
    headline_subject,
    judge,
    terms_of,
)
from newswatch.worker.settings import AlertPolicy

# The demo's positives as the worker saw them (services/newswatch/demo_feeds/): id, event type, published,
# title, evidence sentences, the article's countries.
Row = tuple[str, EventType, str, str, tuple[str, ...], tuple[str, ...]]

HARMATTAN: list[Row] = [
    (
        "ah-done",
        "military_withdrawal",
        "2026-11-24T18:15:00Z",
        "Les derniers soldats de la force Harmattan ont quitté le Mali",
        (
            "Les derniers soldats de la force Harmattan ont quitté le Mali",
            "Le dernier convoi de la force européenne Harmattan a franchi mardi la frontière entre le Mali "
            "et le "
            "Niger, a annoncé l'état-major des armées françaises.",
        ),
        ("ML", "NE", "FR"),
    ),
    (
        "ah-plan",
        "military_withdrawal",
        "2026-11-17T10:02:00Z",
        "Paris annonce le retrait de la force Harmattan du Mali d'ici à la fin du mois",
        (
            "Paris annonce le retrait de la force Harmattan du Mali d'ici à la fin du mois",
            "La France et ses partenaires européens retireront l'ensemble de leurs militaires encore "
            "déployés au "
            "Mali avant le 30 novembre, a annoncé l'Élysée, après l'échec des discussions avec les "
            "autorités de "
            "transition à Bamako.",
        ),
        ("FR", "ML"),
    ),
    (
        "cd-done",
        "military_withdrawal",
        "2026-11-24T18:30:00Z",
        "European force completes Mali exit as last Harmattan convoy reaches Niger",
        (
            "European force completes Mali exit as last Harmattan convoy reaches Niger",
            "The last troops of Task Force Harmattan have left Mali, ending the European military presence "
            "in "
            "the country.",
        ),
        ("ML", "NE", "FR"),
    ),
    (
        "sw-plan",
        "military_withdrawal",
        "2026-11-17T09:30:00Z",
        "France sets end-of-November deadline to pull Harmattan forces out of Mali",
        (
            "France sets end-of-November deadline to pull Harmattan forces out of Mali",
            "France and its European partners will withdraw all remaining Task Force Harmattan troops from "
            "Mali "
            "by the end of the month, the Elysée announced, after talks with the transitional authorities in "
            "Bamako broke down.",
        ),
        ("FR", "ML", "NE", "TD"),
    ),
    (
        "sw-done",
        "military_withdrawal",
        "2026-11-24T17:05:00Z",
        "Last Task Force Harmattan troops leave Mali, ending nine-year mission",
        (
            "Last Task Force Harmattan troops leave Mali, ending nine-year mission",
            "The last soldiers of Task Force Harmattan, the European counter-terrorism force led by France, "
            "crossed from Mali into Niger on Tuesday, the French armed forces ministry said, completing a "
            "withdrawal ordered in September.",
        ),
        ("ML", "FR", "NE"),
    ),
    (
        "cdf-done",
        "military_withdrawal",
        "2026-11-24T19:00:00Z",
        "Mali : fin du retrait de la force européenne Harmattan",
        (
            "Après neuf ans de présence, les derniers militaires de la force Harmattan ont quitté le Mali "
            "mardi.",
            "Le dernier convoi a rejoint Niamey, selon l'état-major français, qui parle d'un retrait « mené "
            "dans l'ordre et en sécurité ».",
        ),
        ("ML", "NE", "FR"),
    ),
]

MONUSCO: list[Row] = [
    (
        "ah-renew",
        "peacekeeping_change",
        "2026-11-20T21:10:00Z",
        "RDC : le Conseil de sécurité prolonge le mandat de la Monusco et acte son retrait de l'Ituri",
        (
            "RDC : le Conseil de sécurité prolonge le mandat de la Monusco et acte son retrait de l'Ituri",
            "Le Conseil de sécurité de l'ONU a renouvelé pour un an le mandat de la mission de maintien de "
            "la "
            "paix en République démocratique du Congo, tout en demandant le retrait de ses Casques bleus "
            "de la "
            "province de l'Ituri d'ici à juin.",
        ),
        ("CD",),
    ),
    (
        "glm-bunia",
        "peacekeeping_change",
        "2026-11-25T10:15:00Z",
        "MONUSCO hands over first Ituri base to Congolese army",
        (
            "MONUSCO hands over first Ituri base to Congolese army",
            "UN peacekeepers handed their base in Bunia to the Congolese armed forces on Wednesday, the "
            "first "
            "step of the mission's withdrawal from Ituri province decided by the Security Council last week.",
        ),
        ("CD",),
    ),
    (
        "cdf-renew",
        "peacekeeping_change",
        "2026-11-21T07:00:00Z",
        "Monusco : le Conseil de sécurité prolonge la mission d'un an",
        (
            "Monusco : le Conseil de sécurité prolonge la mission d'un an",
            "Le Conseil de sécurité a adopté à l'unanimité une résolution prolongeant jusqu'en décembre "
            "2027 le "
            "mandat de la Monusco, qui devra se retirer de l'Ituri d'ici à juin et réduire ses effectifs de "
            "2 000 Casques bleus.",
        ),
        ("CD",),
    ),
    (
        "glm-renew",
        "peacekeeping_change",
        "2026-11-20T21:30:00Z",
        "Security Council renews MONUSCO mandate, orders withdrawal from Ituri by June",
        (
            "Security Council renews MONUSCO mandate, orders withdrawal from Ituri by June",
            "The UN Security Council voted unanimously on Friday to extend the mandate of MONUSCO, its "
            "peacekeeping mission in the Democratic Republic of Congo, for one year, while ordering the "
            "mission "
            "to withdraw from Ituri province by June and cut its troop ceiling by 2,000.",
        ),
        ("CD",),
    ),
]

URUGUAY: Row = (
    "cd-uruguay",
    "peacekeeping_change",
    "2026-11-22T12:10:00Z",
    "Uruguay to withdraw its peacekeepers from UN mission in Congo",
    (
        "Uruguay to withdraw its peacekeepers from UN mission in Congo",
        "Uruguay will pull its 900-strong contingent out of MONUSCO, the UN peacekeeping mission in the "
        "Democratic Republic of Congo, by the middle of next year, its defence ministry said, citing budget "
        "constraints.",
    ),
    ("UY", "CD"),
)

GUINEA_BISSAU: list[Row] = [
    (
        "ah-coup",
        "coup",
        "2026-11-26T08:40:00Z",
        "Guinée-Bissau : des militaires annoncent avoir pris le pouvoir",
        ("Guinée-Bissau : des militaires annoncent avoir pris le pouvoir",),
        ("GW",),
    ),
    (
        "cd-coup",
        "coup",
        "2026-11-26T08:55:00Z",
        "Soldiers seize power in Guinea-Bissau, detain president",
        (
            "Soldiers seize power in Guinea-Bissau, detain president",
            'Army officers in Guinea-Bissau said on Thursday they had taken "total control" of the country, '
            "closed its borders and suspended the electoral process, hours after heavy gunfire near the "
            "presidential palace in Bissau.",
        ),
        ("GW",),
    ),
    (
        "cd-junta",
        "coup",
        "2026-11-26T15:40:00Z",
        "Guinea-Bissau junta names general as transitional leader; AU condemns takeover",
        (
            "The officers who ousted Guinea-Bissau's president named the army's deputy chief of staff, "
            "General "
            "Armando Tchuda, as head of a one-year transition.",
        ),
        ("GW",),
    ),
    (
        "cdf-coup",
        "coup",
        "2026-11-26T10:30:00Z",
        "Coup d'État en Guinée-Bissau : le président arrêté par des militaires",
        (
            "Coup d'État en Guinée-Bissau : le président arrêté par des militaires",
            "Des militaires ont renversé jeudi le président de la Guinée-Bissau, arrêté dans la nuit au "
            "palais "
            "présidentiel.",
        ),
        ("GW",),
    ),
    (
        "glm-ecowas",
        "coup",
        "2026-11-26T17:05:00Z",
        "West African leaders call emergency summit after Guinea-Bissau coup",
        (
            "West African leaders call emergency summit after Guinea-Bissau coup",
            "ECOWAS leaders will meet in Abuja on Saturday after soldiers in Guinea-Bissau overthrew the "
            "president and dissolved the government on Thursday.",
        ),
        ("GW",),
    ),
]

DEMO_ORDER = [HARMATTAN[0], HARMATTAN[1], HARMATTAN[2], HARMATTAN[3], MONUSCO[0], MONUSCO[1], URUGUAY]
DEMO_ORDER += [HARMATTAN[4], HARMATTAN[5], MONUSCO[2], MONUSCO[3], *GUINEA_BISSAU]


def at(stamp: str, **delta: float) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(**delta)


def cand(row: Row, **changes: Any) -> Candidate:
    article_id, event_type, published, title, evidence, countries = row
    data: dict[str, Any] = {
        "event_type": event_type,
        "probability": 0.97,
        "article_id": article_id,
        "url": f"https://{article_id}.example/story",
        "title": title,
        "outlet": article_id.split("-")[0],
        "countries": countries,
        "evidence": evidence,
        "published_at": at(published),
        "fetched_at": at("2026-11-27T08:00:00Z"),
        "classified_at": at("2026-11-27T08:01:00Z"),
        "model_version": "m1",
    }
    data.update(changes)
    return Candidate.model_validate(data)


def story(article_id: str, event_type: EventType, published: str, title: str, *evidence: str) -> Row:
    """A made-up near miss, its countries as the classifier's matcher would find them."""
    from newswatch.classifier.countries import extract_countries

    return (
        article_id,
        event_type,
        published,
        title,
        (title, *evidence),
        extract_countries(" ".join((title, *evidence))),
    )


def group(candidates: list[Candidate], now: datetime | None = None) -> list[set[str]]:
    """Feed ``candidates`` to a fresh alert book in order; the article ids of each resulting alert."""
    book = AlertBook({}, AlertPolicy())
    members: dict[str, set[str]] = {}
    for c in candidates:
        decision = book.apply(c, now=now or at("2026-11-27T09:00:00Z"))
        assert decision.alert is not None
        book.mark_emitted(decision.alert)
        members.setdefault(decision.alert_id, set()).add(c.article_id)
    return sorted(members.values(), key=lambda ids: sorted(ids))


def ids(rows: list[Row]) -> set[str]:
    return {row[0] for row in rows}


# --- the demo's splits now merge ----------------------------------------------------------------------------


def test_demo_run_yields_one_alert_per_real_world_event() -> None:
    alerts = group([cand(row) for row in DEMO_ORDER])
    assert sorted(alerts, key=len) == sorted(
        [ids(HARMATTAN), ids(MONUSCO), {URUGUAY[0]}, ids(GUINEA_BISSAU)], key=len
    )


@pytest.mark.parametrize("seed", range(12))
def test_grouping_does_not_depend_on_arrival_order(seed: int) -> None:
    rows = list(DEMO_ORDER)
    random.Random(seed).shuffle(rows)
    alerts = group([cand(row) for row in rows])
    assert len(alerts) == 4
    assert ids(HARMATTAN) in alerts and ids(MONUSCO) in alerts and {URUGUAY[0]} in alerts


def test_harmattan_announcement_and_completion_a_week_apart_are_one_alert_updated() -> None:
    book = AlertBook({}, AlertPolicy())
    now = at("2026-11-27T09:00:00Z")
    opened = book.apply(cand(HARMATTAN[1]), now=now)  # "Paris annonce le retrait ..." (17 Nov)
    done = book.apply(cand(HARMATTAN[2]), now=now)  # "European force completes Mali exit ..." (24 Nov)
    assert (opened.outcome, done.outcome) == ("opened", "updated")
    assert done.alert is not None and done.alert.alert_id == opened.alert_id
    assert done.alert.version == 2 and done.alert.status == "update"


def test_monusco_handover_five_days_after_the_mandate_decision_joins_it() -> None:
    # the 48 h window alone split this (GLM, 25 Nov vs the Security Council vote of 20 Nov)
    assert group([cand(MONUSCO[0]), cand(MONUSCO[1])]) == [{"ah-renew", "glm-bunia"}]


def test_french_report_naming_only_the_mission_joins_the_mandate_alert() -> None:
    # Le Courrier du Fleuve never names the country; "Monusco" now names the DR Congo (it had no country)
    assert group([cand(MONUSCO[0]), cand(MONUSCO[2])]) == [{"ah-renew", "cdf-renew"}]


# --- near misses stay apart ---------------------------------------------------------------------------------


def test_a_contributor_leaving_the_mission_is_not_the_mandate_renewal_in_either_order() -> None:
    assert len(group([cand(MONUSCO[0]), cand(URUGUAY), cand(MONUSCO[3])])) == 2
    assert len(group([cand(URUGUAY), cand(MONUSCO[0]), cand(MONUSCO[3])])) == 2


MALI = story(
    "fr-mali",
    "military_withdrawal",
    "2026-11-24T10:00:00Z",
    "French troops withdraw from Mali",
    "The last French soldiers left Gao on Tuesday.",
)
NIGER = story(
    "fr-niger",
    "military_withdrawal",
    "2026-11-24T12:00:00Z",
    "French troops withdraw from Niger",
    "The last French soldiers left Niamey on Tuesday.",
)


@pytest.mark.parametrize("rows", [[MALI, NIGER], [NIGER, MALI]], ids=["mali-first", "niger-first"])
def test_the_same_army_leaving_mali_and_niger_are_two_events(rows: list[Row]) -> None:
    assert len(group([cand(row) for row in rows])) == 2


def test_a_withdrawal_from_niger_is_not_the_harmattan_alert_that_names_niger_as_destination() -> None:
    niger = story(
        "fr-niger-2",
        "military_withdrawal",
        "2026-11-25T09:00:00Z",
        "France to withdraw its troops from Niger",
        "French soldiers will leave Niamey by the end of the year, the French armed forces ministry said.",
    )
    alerts = group([cand(row) for row in HARMATTAN] + [cand(niger)])
    assert alerts == sorted([ids(HARMATTAN), {"fr-niger-2"}], key=lambda s: sorted(s))


def test_another_army_leaving_the_same_country_behind_a_country_tag_is_another_event() -> None:
    danes = story(
        "dk-mali",
        "military_withdrawal",
        "2026-11-24T20:00:00Z",
        "Mali : le Danemark retire ses forces spéciales",
        "Les forces spéciales danoises quitteront le Mali d'ici à janvier.",
    )
    assert len(group([*(cand(row) for row in HARMATTAN), cand(danes)])) == 2


def test_coups_in_two_countries_on_the_same_day_are_two_alerts() -> None:
    guinea = story(
        "gn-coup",
        "coup",
        "2026-11-26T12:00:00Z",
        "Soldiers detain president in Conakry",
        "Special forces seized power in Guinea and dissolved the government.",
    )
    nigeria = story(
        "ng-plot",
        "coup",
        "2026-11-26T18:00:00Z",
        "Nigeria says it foiled a coup plot",
        "Nigerian officers planned to seize power in Abuja, the army said.",
    )
    alerts = group([*(cand(row) for row in GUINEA_BISSAU), cand(guinea), cand(nigeria)])
    assert alerts == sorted([ids(GUINEA_BISSAU), {"gn-coup"}, {"ng-plot"}], key=lambda s: sorted(s))


def test_a_coup_and_a_withdrawal_in_the_same_country_never_share_an_alert() -> None:
    withdrawal = story(
        "gw-out",
        "military_withdrawal",
        "2026-11-26T12:00:00Z",
        "ECOWAS stabilisation force soldiers leave Guinea-Bissau",
        "The last Nigerian and Senegalese soldiers left Bissau.",
    )
    assert len(group([*(cand(row) for row in GUINEA_BISSAU), cand(withdrawal)])) == 2


@pytest.mark.parametrize(
    "later",
    [
        story(
            "cd-flights",
            "peacekeeping_change",
            "2026-11-29T09:00:00Z",
            "DR Congo suspends MONUSCO flights after attack on peacekeepers",
            "Kinshasa suspended all flights of the UN mission in the east of the country after an attack "
            "on a "
            "MONUSCO convoy near Goma, the government spokesman said.",
        ),
        story(
            "cd-kivu",
            "peacekeeping_change",
            "2026-11-28T09:00:00Z",
            "Congo orders MONUSCO to leave North Kivu by March",
            "The government of the Democratic Republic of Congo asked the UN peacekeeping mission to "
            "withdraw "
            "from North Kivu province by March, accusing it of failing to protect civilians.",
        ),
    ],
    ids=["flights", "north-kivu"],
)
def test_another_change_to_the_same_mission_days_later_is_another_event(later: Row) -> None:
    assert len(group([cand(MONUSCO[3]), cand(later)])) == 2


def test_without_a_named_operation_reports_three_days_apart_are_two_events() -> None:
    first = story(
        "ru-1",
        "military_withdrawal",
        "2026-11-09T10:00:00Z",
        "Russia announces withdrawal from Kherson",
        "Russian troops will leave the city of Kherson in Ukraine.",
    )
    later = story(
        "ru-2",
        "military_withdrawal",
        "2026-11-12T10:00:00Z",
        "Russian troops complete withdrawal from Kherson",
        "The last Russian soldiers left Kherson in Ukraine.",
    )
    assert len(group([cand(first), cand(later)], now=at("2026-11-12T11:00:00Z"))) == 2


def test_a_named_operation_stretches_the_window_only_to_entity_window_hours() -> None:
    policy = AlertPolicy()
    late = cand(HARMATTAN[0], published_at=at("2026-11-17T10:02:00Z", hours=policy.entity_window_hours + 1))
    assert len(group([cand(HARMATTAN[1]), late], now=at("2026-12-02T00:00:00Z"))) == 2


# --- the pure functions -------------------------------------------------------------------------------------


def test_terms_meet_across_english_and_french() -> None:
    english = terms_of(["The last French soldiers have withdrawn from Mali"])
    french = terms_of(["Les derniers soldats français se sont retirés du Mali"])
    assert english == french == {"~last", "@FR", "~troops", "~withdraw", "@ML"}


def test_entities_are_named_missions_and_operations() -> None:
    assert entities_of(["La force européenne Harmattan quitte le Mali"]) == {"harmattan"}
    assert entities_of(["Task Force Takuba", "Operation Barkhane ends"]) == {"takuba", "barkhane"}
    assert entities_of(["La Monusco et la FINUL", "UNIFIL"]) == {"monusco", "unifil"}
    assert (
        entities_of(["Malian forces Tuesday", "French forces in Mali", "the force of the United Nations"])
        == set()
    )


def test_headline_subject_is_the_first_country_after_a_country_tag() -> None:
    assert headline_subject("Uruguay to withdraw its peacekeepers from UN mission in Congo") == "UY"
    assert headline_subject("Mali : le Danemark retire ses forces spéciales") == "DK"
    assert headline_subject("Guinée-Bissau : des militaires annoncent avoir pris le pouvoir") == "GW"
    assert headline_subject("Breaking: soldiers seize power") is None
    assert headline_countries("Paris annonce le retrait du Mali", ("ML",)) == ("ML",)


def report(row: Row, **delta: float) -> Report:
    _, event_type, published, title, evidence, countries = row
    return Report.of(event_type, title, evidence, countries, at(published, **delta))


def test_judge_names_the_rule_that_decided() -> None:
    policy = AlertPolicy()
    renewal = EventProfile.of(report(MONUSCO[0]))
    assert judge(report(MONUSCO[3]), renewal, policy).reason == "match"
    assert judge(report(URUGUAY), renewal, policy).reason == "actor"
    mali = EventProfile.of(report(MALI))
    assert judge(report(NIGER), mali, policy).reason == "place"
    bunia = judge(report(MONUSCO[1]), renewal, policy)
    assert (bunia.reason, bunia.late) == ("match", True)
    assert judge(report(MONUSCO[1], days=14), renewal, policy).reason == "time"


def test_headline_countries_narrow_to_those_every_headline_names() -> None:
    plan = EventProfile.of(report(HARMATTAN[1]))  # "Paris annonce le retrait ... du Mali": FR, ML
    assert plan.headline == ("FR", "ML") and plan.subject == "FR"
    done = plan.absorb(report(HARMATTAN[0]))  # "... ont quitté le Mali": ML
    assert done.headline == ("ML",) and done.subject == "FR"
    assert set(done.countries) == {"FR", "ML", "NE"} and done.entities == {"harmattan"}
    assert done.start == at(HARMATTAN[1][2]) and done.end == at(HARMATTAN[0][2])


# --- a coup is its country: follow-ups within about two weeks join it ---------------------------------------

BENIN_COUP = story(
    "bj-coup",
    "coup",
    "2026-11-08T08:00:00Z",
    "Bénin : des militaires annoncent à la télévision la destitution du président",
    "Un groupe de soldats a affirmé dimanche avoir pris le pouvoir au Bénin avant d'être repoussé.",
)


def test_a_coup_follow_up_a_week_later_about_the_same_country_joins_the_coup() -> None:
    arrests = story(
        "bj-arrests",
        "coup",
        "2026-11-15T10:00:00Z",
        "Benin arrests more soldiers after the failed coup attempt",
        "Fourteen soldiers were detained in Cotonou over the attempted seizure of power.",
    )
    assert group([cand(BENIN_COUP), cand(arrests)]) == [{"bj-coup", "bj-arrests"}]


def test_a_coup_report_after_two_weeks_or_about_another_country_opens_its_own_alert() -> None:
    much_later = story(
        "bj-later",
        "coup",
        "2026-11-24T10:00:00Z",
        "Benin: soldiers detained over new coup attempt",
        "Soldiers tried again to seize power in Cotonou, the government said.",
    )
    neighbour = story(
        "tg-coup",
        "coup",
        "2026-11-13T10:00:00Z",
        "Togo foils a coup plot, government says",
        "Officers planned to seize power in Lomé, days after the failed coup in Benin.",
    )
    late = judge(
        Report.of("coup", much_later[3], much_later[4], much_later[5], at(much_later[2])),
        EventProfile.of(Report.of("coup", BENIN_COUP[3], BENIN_COUP[4], BENIN_COUP[5], at(BENIN_COUP[2]))),
        AlertPolicy(),
    )
    assert (late.score, late.reason) == (None, "time")
    assert len(group([cand(BENIN_COUP), cand(neighbour)])) == 2
