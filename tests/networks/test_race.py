"""Two members answering at once, on two connections that really commit.

These tests do not use the rolled-back `db` session: each side has its own connection, as
two web workers would. They clean up what they committed.
"""

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import sessionmaker

from matchmaker.accounts.models import FirmMembership, User
from matchmaker.firms.models import Firm, FirmChange
from matchmaker.networks import service
from matchmaker.networks.models import Network, Notification, PartnerFeedback
from tests.conftest import is_postgres
from tests.networks.helpers import make_firm


@pytest.fixture()
def committed(engine: Engine, test_password_hash: str) -> Iterator[dict]:
    """A forming network with two pending invitations, committed; removed afterwards."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as s:
        firms = [
            make_firm(s, name=f"Gara {i}", ateco=code)
            for i, code in enumerate(("41.20.00", "43.31.00", "43.21.01"))
        ]
        users = []
        for i, f in enumerate(firms):
            u = User(
                email=f"race-{f.partita_iva}-{i}@example.it",
                password_hash=test_password_hash,
                role="owner",
                full_name="Race",
            )
            s.add(u)
            s.flush()
            s.add(FirmMembership(user_id=u.id, firm_id=f.id, role="owner"))
            users.append(u)
        s.flush()
        net = service.create_network(
            s,
            seed=firms[0],
            user=users[0],
            name="Rete in gara",
            members=[(firms[1], None, ""), (firms[2], None, "")],
        )
        service.transition(s, network=net, to="forming", user=users[0])
        invs = {i.firm_id: i.id for i in net.invitations}
        s.commit()
        ids = {
            "network": net.id,
            "firms": [f.id for f in firms],
            "users": [u.id for u in users],
            "invitations": [invs[firms[1].id], invs[firms[2].id]],
        }
    yield {"factory": factory, **ids}
    with factory() as s:
        s.execute(delete(Network).where(Network.id == ids["network"]))
        s.execute(delete(PartnerFeedback).where(PartnerFeedback.seeker_firm_id.in_(ids["firms"])))
        s.execute(delete(Notification).where(Notification.user_id.in_(ids["users"])))
        s.execute(delete(User).where(User.id.in_(ids["users"])))
        s.execute(delete(Firm).where(Firm.id.in_(ids["firms"])))
        s.execute(delete(FirmChange).where(FirmChange.firm_id.in_(ids["firms"])))
        s.commit()


def _answer(
    factory: sessionmaker,
    ids: dict,
    i: int,
    *,
    barrier: threading.Barrier | None = None,
    results: list | None = None,
) -> None:
    with factory() as s:
        try:
            net = s.get(Network, ids["network"])
            user = s.get(User, ids["users"][i + 1])
            _ = net.invitations  # both sides read the same state first
            if barrier is not None:
                barrier.wait(timeout=10)
            service.answer_invitation(
                s, network=net, invitation_id=ids["invitations"][i], user=user, accept=True
            )
            s.commit()
            outcome = "ok"
        except service.NetworkConflict:
            s.rollback()
            outcome = "conflict"
        except Exception as exc:  # noqa: BLE001 - reported to the main thread's assertion
            outcome = f"error: {exc!r}"
        if results is not None:
            results.append(outcome)


def _final(factory: sessionmaker, ids: dict) -> tuple[str, list[str], int]:
    with factory() as s:
        net = service.get_network(s, ids["network"])
        return (
            net.status,
            sorted(i.status for i in net.invitations),
            len(service.active_members(net)),
        )


def _consistent(status: str, invitations: list[str], members: int) -> None:
    # Never "everyone accepted" while the network still says forming, nor agreed with someone
    # pending; members are exactly the promoter plus the accepted firms.
    if "pending" in invitations:
        assert status == "forming"
    else:
        assert status == "agreed"
    assert members == 1 + invitations.count("accepted")


def test_interleaved_answers_on_two_sessions(committed: dict) -> None:
    factory = committed["factory"]
    a, b = factory(), factory()
    try:
        net_a = a.get(Network, committed["network"])
        net_b = b.get(Network, committed["network"])
        _ = net_a.invitations, net_b.invitations  # both read: one pending invitation each
        service.answer_invitation(
            a,
            network=net_a,
            invitation_id=committed["invitations"][0],
            user=a.get(User, committed["users"][1]),
            accept=True,
        )
        a.commit()
        try:
            service.answer_invitation(
                b,
                network=net_b,
                invitation_id=committed["invitations"][1],
                user=b.get(User, committed["users"][2]),
                accept=True,
            )
            b.commit()
            second = "ok"
        except service.NetworkConflict:
            b.rollback()
            second = "conflict"
    finally:
        a.close()
        b.close()
    state = _final(factory, committed)
    _consistent(*state)
    if is_postgres():
        # The row lock makes the second writer wait and then see the first answer.
        assert second == "ok" and state[0] == "agreed"
    if second == "conflict":
        assert state == ("forming", ["accepted", "pending"], 2)
        _answer(factory, committed, 1)  # trying again succeeds
        _consistent(*_final(factory, committed))
        assert _final(factory, committed)[0] == "agreed"


def test_simultaneous_answers_in_two_threads(committed: dict) -> None:
    factory = committed["factory"]
    barrier = threading.Barrier(2)
    results: list[str] = []
    threads = [
        threading.Thread(
            target=_answer,
            args=(factory, committed, i),
            kwargs={"barrier": barrier, "results": results},
        )
        for i in (0, 1)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) in (["ok", "ok"], ["conflict", "ok"])
    _consistent(*_final(factory, committed))
    for i in (0, 1):  # whoever lost retries; in the end both are in and the network agreed
        with factory() as s:
            inv_status = {
                x.id: x.status for x in service.get_network(s, committed["network"]).invitations
            }
        if inv_status[committed["invitations"][i]] == "pending":
            _answer(factory, committed, i)
    state = _final(factory, committed)
    _consistent(*state)
    assert state == ("agreed", ["accepted", "accepted"], 3)
