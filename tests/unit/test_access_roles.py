"""Roles (services.access_roles): what each role sees, the role from the token's claims, the session."""

from __future__ import annotations

import pytest

from services.access_roles import (
    ANONYMOUS,
    check_role_map,
    logged_level,
    may_download,
    may_see,
    pages_for,
    resolve,
    role_from_claims,
    subject_of,
)

MAP = {"casestream-oversikt": "oversikt", "casestream-enhet": "enhet", "casestream-controller": "controller"}


def test_each_role_sees_the_one_before_plus_its_own_pages() -> None:
    assert pages_for("oversikt") == ("oversikt", "externa-kop", "aktualiseringar", "prognos")
    assert pages_for("enhet") == ("oversikt", "externa-kop", "belaggning", "aktualiseringar", "prognos")
    assert pages_for("controller") == ("oversikt", "externa-kop", "belaggning", "aktualiseringar", "prognos",
                                       "logguppfoljning")
    assert not may_see("oversikt", "belaggning") and may_see("enhet", "belaggning")
    assert not may_see("enhet", "logguppfoljning") and may_see("controller", "logguppfoljning")
    assert [may_download(r) for r in ("oversikt", "enhet", "controller")] == [False, False, True]


def test_only_unit_level_and_log_pages_are_logged() -> None:
    assert logged_level("belaggning") == "unit" and logged_level("logguppfoljning") == "log"
    assert [logged_level(p) for p in ("oversikt", "externa-kop", "aktualiseringar", "prognos")] == [None] * 4
    with pytest.raises(ValueError, match="unknown page 'hemlig'"):
        may_see("controller", "hemlig")


def test_role_from_a_string_or_a_list_claim_takes_the_highest_mapped_role() -> None:
    assert role_from_claims({"grp": "casestream-enhet"}, "grp", MAP) == "enhet"
    assert role_from_claims({"grp": ["other", "casestream-controller", "casestream-oversikt"]}, "grp",
                            MAP) == "controller"
    assert role_from_claims({"grp": ["other"]}, "grp", MAP) is None
    assert role_from_claims({}, "grp", MAP) is None
    assert role_from_claims({"grp": "controller"}, "grp", MAP) is None  # only mapped values count


def test_a_role_map_naming_no_role_is_refused() -> None:
    check_role_map(MAP)
    with pytest.raises(ValueError, match="'admins' maps to 'admin'; roles: oversikt, enhet, controller"):
        check_role_map({"admins": "admin"})


def test_the_subject_must_be_pseudonymous() -> None:
    assert subject_of({"sub": "auth0|5f7c8ec7c33c6c004bbafe82"}) == "auth0|5f7c8ec7c33c6c004bbafe82"
    assert subject_of({"sub": "anna.svensson@orebro.se"}) is None  # an e-mail address
    assert subject_of({"sub": "Anna Svensson"}) is None  # a name with a space
    assert subject_of({"sub": "19811218-9876"}) is None  # a personnummer
    assert subject_of({}) is None


def test_resolve_the_session() -> None:
    def access(user: dict[str, object], sign_in: bool = True):  # type: ignore[no-untyped-def]
        return resolve(sign_in, user, claim="grp", mapping=MAP, role_when_off="controller")

    off = access({}, sign_in=False)
    assert (off.state, off.role, off.subject, off.sign_in) == ("ok", "controller", ANONYMOUS, False)
    assert access({"is_logged_in": False}).state == "signed_out"
    assert access({}).state == "signed_out"
    assert access({"is_logged_in": True, "sub": "a@b.se", "grp": "casestream-enhet"}).state == "bad_subject"
    unknown = access({"is_logged_in": True, "sub": "u-1", "grp": "nobody"})
    assert (unknown.state, unknown.role, unknown.pages()) == ("unknown_role", None, ())
    ok = access({"is_logged_in": True, "sub": "u-1", "grp": "casestream-enhet", "email": "x@y.se"})
    assert (ok.state, ok.role, ok.subject) == ("ok", "enhet", "u-1")
    assert "belaggning" in ok.pages() and "logguppfoljning" not in ok.pages()
