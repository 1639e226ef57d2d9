"""Who may do what through the API: roles and the permissions each grants.

A token grants one role (DESIGN.md, "Parts": admin, approver, integration, viewer); an
endpoint asks for one of a few permissions, so what each role may do reads in one table
(`GRANTS`) instead of being scattered over the routes:

| permission | what it covers                                              | roles              |
| ---------- | ----------------------------------------------------------- | ------------------ |
| read       | look at everything: items, reservations, the exchange log,  | admin, viewer      |
|            | connections and their health, metrics                       |                    |
| reserve    | reservations (list, show, create, update, cancel) and the   | admin, integration |
|            | workplace items they are made for                           |                    |
| operate    | reprocess events, request synchronizations, test connections | admin              |
| decide     | approvals, those the caller is a performer for (admin: all)  | admin, approver    |
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    approver = "approver"
    integration = "integration"
    viewer = "viewer"


class Permission(StrEnum):
    read = "read"
    reserve = "reserve"
    operate = "operate"
    decide = "decide"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.approver: frozenset({Permission.decide}),
    Role.integration: frozenset({Permission.reserve}),
    Role.viewer: frozenset({Permission.read}),
}


def allows(role: Role, *wanted: Permission) -> bool:
    """True if `role` grants any of the `wanted` permissions."""
    return not GRANTS[role].isdisjoint(wanted)
