"""Many clients at once against the live server: no lost update, no double decision, no
duplicate from a retried create, no capacity overrun.

Each test fires its requests together with ``asyncio.gather`` over TCP; the server runs two
worker processes, each with its own connections, so the requests race in the database. On
PostgreSQL they run in parallel and meet on row locks and unique indexes; on SQLite writers
queue on the file lock, and the same outcomes must hold.
"""

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI

from app.core.errors import PROBLEM_JSON
from tests.factories import (
    Actor,
    Actors,
    create_partner,
    designate,
    district_payload,
    engagement_payload,
    evidence_payload,
    make_actor,
    move_partner,
    review_in_progress,
    scores_payload,
    submit_evidence,
    unique,
)

pytestmark = pytest.mark.slow

CLIENTS = 8
ROUNDS = 5  # races whose loser depends on timing run a few times


def assert_problem(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, response.text
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.json()["status"] == response.status_code


async def audit_events(
    client: httpx.AsyncClient, admin: Actor, entity_id: str, action: str
) -> list[dict[str, object]]:
    response = await client.get(
        "/v1/audit-events",
        params={"entity_id": entity_id, "action": action, "limit": 200},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_concurrent_patches_with_if_match_lose_no_update(
    live_client: httpx.AsyncClient, admin: Actor
) -> None:
    client = live_client
    partner = await create_partner(client, admin, regions=["north"])
    url = f"/v1/partners/{partner['id']}"
    regions = [f"region-{number}" for number in range(CLIENTS)]

    # Round one: every client read version 1 and writes at once; one wins, the rest get 412.
    first = await asyncio.gather(
        *(
            client.patch(
                url,
                json={"regions": ["north", region]},
                headers=admin.headers | {"If-Match": '"1"'},
            )
            for region in regions
        )
    )
    assert sorted(response.status_code for response in first) == [200] + [412] * (CLIENTS - 1)
    for response in first:
        if response.status_code == 412:
            assert_problem(response, 412)
    winner = next(
        region for region, response in zip(regions, first, strict=True) if response.is_success
    )

    async def add(region: str) -> int:
        """Read, add one region, write with If-Match; on 412 read again and reapply."""
        while True:
            current = await client.get(url, headers=admin.headers)
            assert current.status_code == 200, current.text
            response = await client.patch(
                url,
                json={"regions": [*current.json()["regions"], region]},
                headers=admin.headers | {"If-Match": current.headers["ETag"]},
            )
            if response.status_code != 412:
                assert response.status_code == 200, response.text
                assert response.headers["ETag"] == f'"{response.json()["version"]}"'
                version: int = response.json()["version"]
                return version
            assert_problem(response, 412)

    # Round two: the losers retry together until each change is in.
    losers = [region for region in regions if region != winner]
    versions = await asyncio.gather(*(add(region) for region in losers))

    # Exactly one writer per version, and every change survived.
    assert sorted(versions) == list(range(3, 3 + len(losers)))
    final = await client.get(url, headers=admin.headers)
    assert final.json()["version"] == 1 + CLIENTS
    assert sorted(final.json()["regions"]) == sorted(["north", *regions])
    assert len(await audit_events(client, admin, partner["id"], "partner.updated")) == CLIENTS


async def test_concurrent_decisions_on_one_review_record_one(
    app: FastAPI, live_client: httpx.AsyncClient, actors: Actors
) -> None:
    client = live_client
    partner = await create_partner(client, actors.admin)
    review_id = await review_in_progress(client, actors, partner["id"])
    others = [await make_actor(app, "state_reviewer") for _ in range(CLIENTS - 2)]
    deciders = [actors.admin, actors.reviewer, *others]
    choices = ["approve", "deny", "approve_with_conditions", "defer"]
    bodies = [
        {"decision": choices[number % len(choices)], "rationale": f"Decider {number}."}
        | ({"conditions": ["Quarterly reports."]} if number % len(choices) == 2 else {})
        for number in range(len(deciders))
    ]

    responses = await asyncio.gather(
        *(
            client.post(f"/v1/reviews/{review_id}/decision", json=body, headers=decider.headers)
            for decider, body in zip(deciders, bodies, strict=True)
        )
    )

    winners = [response for response in responses if response.status_code == 201]
    assert len(winners) == 1, [response.text for response in responses]
    for response in responses:
        if response.status_code != 201:
            assert_problem(response, 409, 412)
    decided = winners[0].json()["decision"]
    review = await client.get(f"/v1/reviews/{review_id}", headers=actors.admin.headers)
    assert review.json()["decision"] == decided
    events = await audit_events(client, actors.admin, review_id, "review.decided")
    assert [event["actor_id"] for event in events] == [decided["decided_by"]]

    expected_status = {
        "approve": "approved",
        "approve_with_conditions": "approved",
        "deny": "denied",
        "defer": "under_review",
    }[decided["decision"]]
    read = await client.get(f"/v1/partners/{partner['id']}", headers=actors.admin.headers)
    assert read.json()["status"] == expected_status
    history = await client.get(
        f"/v1/partners/{partner['id']}/designations", headers=actors.admin.headers
    )
    assert len(history.json()["items"]) == (expected_status == "approved")


async def test_one_idempotency_key_sent_at_once_creates_one_evidence_record(
    live_client: httpx.AsyncClient, actors: Actors
) -> None:
    client = live_client
    partner_id = actors.partner_record["id"]
    url = f"/v1/partners/{partner_id}/evidence"
    body = evidence_payload()
    headers = actors.partner.headers | {"Idempotency-Key": unique("idem")}

    responses = await asyncio.gather(
        *(client.post(url, json=body, headers=headers) for _ in range(CLIENTS))
    )

    created = [response for response in responses if response.status_code == 201]
    assert created, [response.text for response in responses]
    for response in responses:
        if response.status_code != 201:
            # The app's design: a twin still running answers 409 "in progress", retry later.
            assert_problem(response, 409)
            assert "in progress" in response.json()["detail"]
    assert len({response.content for response in created}) == 1
    assert len({response.headers["Location"] for response in created}) == 1
    assert sum("Idempotent-Replayed" not in response.headers for response in created) <= 1
    record = created[0].json()

    listed = await client.get(url, params={"limit": 200}, headers=actors.admin.headers)
    assert [item["id"] for item in listed.json()["items"] if item["title"] == body["title"]] == [
        record["id"]
    ]
    assert len(await audit_events(client, actors.admin, record["id"], "evidence.submitted")) == 1

    # Once settled, every retry replays the one record; another body under the key is refused.
    again = await client.post(url, json=body, headers=headers)
    assert again.status_code == 201
    assert again.json() == record
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(await client.post(url, json=evidence_payload(), headers=headers), 409)


UNIQUE_CREATES = {
    "district": ("/v1/districts", district_payload),
    "need domain": (
        "/v1/need-domains",
        lambda: {"code": unique("nd").replace("-", "_"), "name": "Raced"},
    ),
    "user": (
        "/v1/users",
        lambda: {"email": f"{unique('raced')}@example.org", "role": "state_reviewer"},
    ),
}


@pytest.mark.parametrize("kind", UNIQUE_CREATES)
async def test_creates_at_once_of_one_unique_thing_make_one(
    live_client: httpx.AsyncClient, actors: Actors, kind: str
) -> None:
    """The unique index decides between twins, which a look first cannot: each loser is a
    409 naming the clash, never a 500."""
    path, payload = UNIQUE_CREATES[kind]
    for _ in range(ROUNDS):
        body = payload()
        responses = await asyncio.gather(
            *(
                live_client.post(path, json=body, headers=actors.admin.headers)
                for _ in range(CLIENTS)
            )
        )
        created = [response for response in responses if response.status_code == 201]
        assert len(created) == 1, [response.text for response in responses]
        for response in responses:
            if response is not created[0]:
                assert_problem(response, 409)
                assert "already exists" in response.json()["detail"]


async def test_concurrent_creates_and_activations_never_exceed_capacity(
    app: FastAPI, live_client: httpx.AsyncClient, actors: Actors
) -> None:
    client = live_client
    capacity = 3
    partner = await create_partner(client, actors.admin, capacity=capacity)
    await designate(app, partner["id"])
    district_id = actors.district_record["id"]
    district = actors.district

    planned = []
    for _ in range(4):
        response = await client.post(
            "/v1/engagements",
            json=engagement_payload(partner["id"], district_id, status="planned"),
            headers=district.headers,
        )
        assert response.status_code == 201, response.text
        planned.append(response.json()["id"])

    creates = [
        client.post(
            "/v1/engagements",
            json=engagement_payload(partner["id"], district_id),
            headers=district.headers,
        )
        for _ in range(CLIENTS - len(planned) + 2)
    ]
    activations = [
        client.patch(
            f"/v1/engagements/{engagement_id}",
            json={"status": "active"},
            headers=district.headers | {"If-Match": '"1"'},
        )
        for engagement_id in planned
    ]
    responses = await asyncio.gather(*creates, *activations)

    succeeded = [response for response in responses if response.is_success]
    assert len(succeeded) == capacity, [response.text for response in responses]
    for response in responses:
        if not response.is_success:
            assert_problem(response, 409)
    listed = await client.get(
        "/v1/engagements",
        params={"partner_id": partner["id"], "status": "active", "limit": 200},
        headers=actors.admin.headers,
    )
    active = {item["id"] for item in listed.json()["items"]}
    assert active == {response.json()["id"] for response in succeeded}
    for engagement_id in active:
        assert uuid.UUID(engagement_id)


async def test_a_conflict_declared_while_deciding_never_leaves_one_reviewer_deciding_alone(
    live_client: httpx.AsyncClient, actors: Actors
) -> None:
    """Four eyes under a race: the approval counts the other reviewer's scores, so that
    reviewer declaring a conflict at the same moment must stop the one or the other."""
    client = live_client
    for _ in range(ROUNDS):
        partner = await create_partner(client, actors.admin)
        review_id = await review_in_progress(client, actors, partner["id"])
        decision, declaration = await asyncio.gather(
            client.post(
                f"/v1/reviews/{review_id}/decision",
                json={"decision": "approve", "rationale": "Per the rubric."},
                headers=actors.admin.headers,
            ),
            client.put(
                f"/v1/reviews/{review_id}/scores",
                json=scores_payload(declared=True),
                headers=actors.reviewer.headers | {"If-Match": '"1"'},
            ),
        )
        # A declaration answers 409 whether it was recorded or refused: read what stands.
        assert_problem(declaration, 409)
        sheet = await client.get(f"/v1/reviews/{review_id}/scores", headers=actors.reviewer.headers)
        declared = sheet.json()["conflict_of_interest"]["declared"]
        if declared:
            assert_problem(decision, 409)
        else:
            assert decision.status_code == 201, decision.text
            assert declaration.json()["title"] == "Review already decided"


async def test_two_writes_with_a_fresh_key_lock_in_no_cycle(
    app: FastAPI, live_client: httpx.AsyncClient, actors: Actors
) -> None:
    """A key's first use in a minute is recorded in the write's transaction. Opening a review
    locks the partner and then wrote the key's row at its first flush; deciding evidence
    writes first and locks the partner after: with one key, a deadlock and a 503."""
    client = live_client
    for _ in range(ROUNDS * 2):
        partner = await create_partner(client, actors.admin)
        evidence = await submit_evidence(client, actors.admin, partner["id"])
        await move_partner(client, actors.admin, partner["id"], "submitted", "under_review")
        reviewer = await make_actor(app, "state_reviewer")  # its key never used yet
        opened, decided = await asyncio.gather(
            client.post(f"/v1/partners/{partner['id']}/reviews", json={}, headers=reviewer.headers),
            client.post(
                f"/v1/evidence/{evidence['id']}/decision",
                json={"decision": "accept", "rationale": "Meets the standards."},
                headers=reviewer.headers | {"If-Match": f'"{evidence["version"]}"'},
            ),
        )
        assert (opened.status_code, decided.status_code) == (201, 200), (opened.text, decided.text)
        keys = await client.get("/v1/api-keys", headers=reviewer.headers)
        assert keys.json()["items"][0]["last_used_at"] is not None


async def test_a_key_revoked_by_several_at_once_is_revoked_once(
    app: FastAPI, live_client: httpx.AsyncClient, actors: Actors
) -> None:
    admins = [actors.admin, *[await make_actor(app, "state_admin") for _ in range(CLIENTS - 1)]]
    for _ in range(ROUNDS):
        created = await live_client.post(
            "/v1/api-keys", json={"name": "revoked at once"}, headers=actors.admin.headers
        )
        assert created.status_code == 201, created.text
        key_id = created.json()["id"]
        responses = await asyncio.gather(
            *(live_client.delete(f"/v1/api-keys/{key_id}", headers=a.headers) for a in admins)
        )
        assert [response.status_code for response in responses] == [204] * len(admins)
        events = await audit_events(live_client, actors.admin, key_id, "api_key.revoked")
        assert len(events) == 1, events
