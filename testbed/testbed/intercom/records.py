"""The synthetic workspace's records, each a pure function of (seed, index, its timestamps).

Small catalogs (admins, teams, tags, ...) are built once; the big kinds (contacts, companies,
conversations, tickets) are built on demand by `Generator.contact(i, ...)` and friends, so a
workspace of a million contacts costs nothing until a record is asked for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from testbed.intercom import lifecycle
from testbed.intercom.det import IdCodec, rng, stable_hash
from testbed.intercom.options import SandboxOptions

DAY = lifecycle.DAY
PARTS_SHOWN = 500  # GET /conversations/{id} returns only the most recent 500 parts
EVENTS_LISTED = 90 * DAY  # GET /events lists only events of the last 90 days
EMBEDDED_LIST_MAX = 10  # a contact's embedded tags/companies/notes hold at most this many
# With `drift`, the workspace has enough tags for contacts to carry more than the embedded 10.
DRIFT_MIN_TAGS = 24
NOTE_SLOTS = 64  # note ids are encoded from contact index * NOTE_SLOTS + note number
PART_SLOTS = 100_000  # part ids are conversation/ticket id * PART_SLOTS + part number
# The workspace's bot (Fin): the author of bot replies, handovers and some closes. Its id
# is numeric like an admin's, outside the admin and team id ranges.
BOT_ID = "9900001"
# Walked lifecycles kept (Generator._walked): a search page's worth several times over.
WALKS_KEPT = 2048

FIRST_NAMES = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Lars",
    "Maya",
    "Nico",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
]
LAST_NAMES = [
    "Abe",
    "Brown",
    "Costa",
    "Dubois",
    "Eze",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Rossi",
    "Smith",
]
DOMAINS = ["example.com", "acme.test", "globex.test", "initech.test", "umbrella.test"]
COMPANY_WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Soylent",
    "Cyberdyne",
    "Aperture",
    "Wonka",
    "Oscorp",
    "Gringotts",
    "Monarch",
]
COMPANY_SUFFIXES = ["Inc", "Ltd", "GmbH", "Labs", "Group", "Systems", "Partners"]
INDUSTRIES = ["Software", "Retail", "Finance", "Health", "Education", "Logistics", "Media"]
PLANS = ["free", "starter", "pro", "enterprise"]
CITIES = [
    ("Ireland", "Dublin", "Dublin"),
    ("United States", "California", "San Francisco"),
    ("Germany", "Berlin", "Berlin"),
    ("Japan", "Tokyo", "Tokyo"),
    ("Brazil", "Sao Paulo", "Sao Paulo"),
    ("Nigeria", "Lagos", "Lagos"),
]
BROWSERS = ["chrome", "firefox", "safari", "edge"]
OSES = ["OS X 14.1", "Windows 11", "Ubuntu 22.04", "iOS 17.2", "Android 14"]
WORDS = [
    "billing",
    "login",
    "export",
    "invoice",
    "refund",
    "upgrade",
    "password",
    "api",
    "integration",
    "support",
    "bug",
    "question",
    "feature",
    "slow",
    "error",
    "thanks",
]
EVENT_NAMES = [
    "signed-in",
    "invited-teammate",
    "created-project",
    "upgraded-plan",
    "exported-report",
    "viewed-pricing",
]
ACTIVITY_TYPES = [
    "admin_login_success",
    "admin_logout",
    "admin_away_mode_change",
    "app_name_change",
    "admin_permission_change",
    "app_team_creation",
]
CONVERSATION_SOURCES = ["conversation", "email", "phone_call", "push", "sms", "whatsapp"]
TICKET_STATE_CATEGORIES = ["submitted", "in_progress", "waiting_on_customer", "resolved"]
TICKET_CATEGORIES = ["Customer", "Back-office", "Tracker"]
CONTACT_CUSTOM_ATTRIBUTES = [
    ("plan", "string"),
    ("seats", "integer"),
    ("vip", "boolean"),
    ("trial_ends_at", "date"),
    ("score", "float"),
]
COMPANY_CUSTOM_ATTRIBUTES = [("tier", "string"), ("employees_band", "string")]
CONVERSATION_CUSTOM_ATTRIBUTES = [("topic", "string"), ("escalation_level", "integer")]


def _sentence(r: Any, words: int) -> str:
    return " ".join(r.choice(WORDS) for _ in range(words)).capitalize()


class Generator:
    """Builds every record of a workspace from the options' seed and anchor time."""

    def __init__(self, options: SandboxOptions, anchor: int) -> None:
        self.o = options
        self.seed = options.seed
        self.anchor = anchor
        self.start = anchor - options.history_days * DAY
        self.span = max(options.history_days * DAY - 7200, 1)
        self.workspace_id = f"ws{stable_hash(self.seed, 'workspace') % 10**8:08d}"
        self.codecs = {
            kind: IdCodec(self.seed, kind, style)
            for kind, style in [
                ("contacts", "hex"),
                ("companies", "hex"),
                ("conversations", "numeric"),
                ("tickets", "numeric"),
                ("notes", "numeric"),
                ("admins", "numeric"),
                ("segments", "hex"),
                ("tags", "numeric"),
                ("articles", "numeric"),
                ("collections", "numeric"),
            ]
        }
        self.admins = [self._admin(k) for k in range(options.admins)]
        self.teams = [self._team(k) for k in range(options.teams)]
        # Admin indexes per team index (each admin is in one team: `_team`).
        self.team_members = [
            [j for j in range(options.admins) if j % options.teams == k]
            for k in range(options.teams)
        ]
        self.bot = {
            "type": "bot",
            "id": BOT_ID,
            "name": "Fin",
            "email": f"operator+{self.workspace_id}@intercom.io",
        }
        self._walks: OrderedDict[tuple[str, int, int], Any] = OrderedDict()
        self._walks_lock = threading.Lock()
        for admin in self.admins:
            admin["team_ids"] = [
                int(t["id"]) for t in self.teams if int(admin["id"]) in t["admin_ids"]
            ]
            admin["team_priority_level"] = {
                "primary_team_ids": admin["team_ids"],
                "secondary_team_ids": [],
            }
        tag_count = max(options.tags, DRIFT_MIN_TAGS) if options.drift else options.tags
        self.tags = [self._tag(k) for k in range(tag_count)]
        self.segments = [self._segment(k, company=False) for k in range(options.segments)]
        self.company_segment_list = [
            self._segment(k, company=True) for k in range(options.company_segments)
        ]
        self.data_attributes = self._data_attributes()
        self.ticket_types = [self._ticket_type(k) for k in range(options.ticket_types)]
        self.help_centers = [self._help_center()]
        self.collections = [self._collection(k) for k in range(options.collections)]
        self.articles = [self._article(k) for k in range(options.articles)]
        self.newsfeeds = [self._newsfeed(k) for k in range(options.newsfeeds)]
        self.news_items = [self._news_item(k) for k in range(options.news_items)]
        self.subscription_types = [self._subscription_type(k) for k in range(2)]
        self.activity_logs = sorted(
            (self._activity_log(k) for k in range(options.activity_logs)),
            key=lambda log: (-log["created_at"], log["id"]),
        )

    # ----- time helpers ---------------------------------------------------------------------
    def base_updated_at(self, index: int, count: int) -> int:
        """Monotonic in index, in groups of three equal seconds (ties matter for bookmarks)."""
        return self.start + ((index - index % 3) * self.span) // max(count, 1)

    def _catalog_time(self, *parts: int | str) -> tuple[int, int]:
        r = rng(self.seed, "catalog-time", *parts)
        created = self.start + r.randrange(self.span // 2)
        return created, created + r.randrange(self.span // 2)

    # ----- catalogs -------------------------------------------------------------------------
    def _admin(self, k: int) -> dict[str, Any]:
        r = rng(self.seed, "admin", k)
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        return {
            "type": "admin",
            "id": self.codecs["admins"].encode(k),
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}{k}@support.example.com",
            "job_title": r.choice(["Support Engineer", "Success Manager", "Team Lead"]),
            "away_mode_enabled": r.random() < 0.2,
            "away_mode_reassign": r.random() < 0.5,
            "away_status_reason_id": None,
            "has_inbox_seat": True,
            "team_ids": [],
            "avatar": None,
            "team_priority_level": {},
        }

    def _team(self, k: int) -> dict[str, Any]:
        members = [int(a["id"]) for j, a in enumerate(self.admins) if j % self.o.teams == k]
        return {
            "type": "team",
            "id": str(7_000_000 + k * 17),
            "name": ["Support", "Billing", "Success", "Sales", "Onboarding"][k % 5]
            + (f" {k // 5 + 1}" if k >= 5 else ""),
            "admin_ids": members,
            "admin_priority_level": {"primary_admin_ids": members, "secondary_admin_ids": []},
            "assignment_limit": None,
            "distribution_method": "round_robin",
        }

    def _tag(self, k: int) -> dict[str, Any]:
        return {
            "type": "tag",
            "id": self.codecs["tags"].encode(k),
            "name": [
                "vip",
                "churn-risk",
                "beta",
                "partner",
                "trial",
                "enterprise",
                "bug",
                "feedback",
            ][k % 8]
            + (f"-{k // 8}" if k >= 8 else ""),
        }

    def _segment(self, k: int, company: bool) -> dict[str, Any]:
        created, updated = self._catalog_time("segment", int(company), k)
        segment = {
            "type": "segment",
            "id": self.codecs["segments"].encode(k + (1_000_000 if company else 0)),
            "name": (
                f"Company segment {k + 1}"
                if company
                else ["Active users", "New leads", "Churned", "Power users"][k % 4]
                + (f" {k // 4 + 1}" if k >= 4 else "")
            ),
            "created_at": created,
            "updated_at": updated,
            "count": None,
        }
        if not company:
            segment["person_type"] = "user" if k % 2 == 0 else "contact"
        return segment

    def _data_attributes(self) -> list[dict[str, Any]]:
        attributes: list[dict[str, Any]] = []
        # (name, full_name, data_type): names repeat, full names do not (as at Intercom,
        # where the plan's name and id are listed as `name` and `id`).
        builtins = {
            "contact": [
                ("name", "name", "string"),
                ("email", "email", "string"),
                ("created_at", "created_at", "date"),
                ("last_seen_at", "last_seen_at", "date"),
                ("role", "role", "string"),
            ],
            "company": [
                ("name", "name", "string"),
                ("name", "plan.name", "string"),
                ("id", "id", "string"),
                ("id", "plan.id", "string"),
                ("company_id", "company_id", "string"),
                ("created_at", "created_at", "date"),
                ("monthly_spend", "monthly_spend", "float"),
            ],
            "conversation": [],
        }
        customs = {
            "contact": CONTACT_CUSTOM_ATTRIBUTES,
            "company": COMPANY_CUSTOM_ATTRIBUTES,
            # A second live "topic": two conversation attributes can share a name.
            "conversation": [*CONVERSATION_CUSTOM_ATTRIBUTES, ("topic", "string")],
        }
        for model in ("contact", "company", "conversation"):
            for name, full_name, data_type in builtins[model]:
                attributes.append(
                    {
                        "type": "data_attribute",
                        "model": model,
                        "name": name,
                        "full_name": full_name,
                        "label": full_name.replace("_", " ").replace(".", " ").title(),
                        "description": f"The {full_name.replace('_', ' ')} of the {model}",
                        "data_type": data_type,
                        "api_writable": False,
                        "messenger_writable": False,
                        "ui_writable": False,
                        "custom": False,
                        "archived": False,
                    }
                )
            # One archived custom attribute per model: served only with include_archived=true.
            for n, (name, data_type) in enumerate(
                [*customs[model], (f"legacy_{model}_flag", "boolean")]
            ):
                created, updated = self._catalog_time("attribute", model, n)
                # Full names stay unique when names repeat.
                repeated = any(other == name for other, _ in customs[model][:n])
                attributes.append(
                    {
                        "type": "data_attribute",
                        "id": 300_000 + len(attributes),
                        "model": model,
                        "name": name,
                        "full_name": f"custom_attributes.{name}" + (f"_{n}" if repeated else ""),
                        "label": name.replace("_", " ").title(),
                        "description": "",
                        "data_type": data_type,
                        "api_writable": True,
                        "messenger_writable": False,
                        "ui_writable": True,
                        "custom": True,
                        "archived": name.startswith("legacy_"),
                        "created_at": created,
                        "updated_at": updated,
                        "admin_id": self.admins[n % len(self.admins)]["id"],
                    }
                )
        return attributes

    def _ticket_type(self, k: int) -> dict[str, Any]:
        created, updated = self._catalog_time("ticket_type", k)
        type_id = str(40 + k)
        states = [
            {
                "type": "ticket_state",
                "id": str(9000 + k * 10 + n),
                "category": category,
                "internal_label": category.replace("_", " ").capitalize(),
                "external_label": category.replace("_", " ").capitalize(),
            }
            for n, category in enumerate(TICKET_STATE_CATEGORIES)
        ]
        attributes = [
            {
                "type": "ticket_type_attribute",
                "id": str(8000 + k * 10 + n),
                "workspace_id": self.workspace_id,
                "name": name,
                "description": "",
                "data_type": "string",
                "input_options": {"multiline": n == 1},
                "order": n,
                "required_to_create": n == 0,
                "required_to_create_for_contacts": False,
                "visible_on_create": True,
                "visible_to_contacts": True,
                "default": True,
                "ticket_type_id": int(type_id),
                "archived": False,
                "created_at": created,
                "updated_at": updated,
            }
            for n, name in enumerate(["_default_title_", "_default_description_"])
        ]
        return {
            "type": "ticket_type",
            "id": type_id,
            "category": TICKET_CATEGORIES[k % 3],
            "name": ["Bug report", "Refund request", "Feature request", "Access request"][k % 4]
            + (f" {k // 4 + 1}" if k >= 4 else ""),
            "description": "Tickets raised by customers",
            "icon": "🎟️",
            "workspace_id": self.workspace_id,
            "ticket_type_attributes": {"type": "list", "ticket_type_attributes": attributes},
            "ticket_states": {"type": "list", "data": states},
            "archived": False,
            "created_at": created,
            "updated_at": updated,
        }

    def _help_center(self) -> dict[str, Any]:
        created, updated = self._catalog_time("help_center")
        return {
            "id": "5001",
            "workspace_id": self.workspace_id,
            "created_at": created,
            "updated_at": updated,
            "identifier": "help",
            "website_turned_on": True,
            "display_name": "Help Center",
            "url": "https://help.example.com",
            "custom_domain": None,
        }

    def _collection(self, k: int) -> dict[str, Any]:
        created, updated = self._catalog_time("collection", k)
        return {
            "id": self.codecs["collections"].encode(k),
            "workspace_id": self.workspace_id,
            "name": f"Collection {k + 1}",
            "description": f"Articles about topic {k + 1}",
            "created_at": created,
            "updated_at": updated,
            "url": f"https://help.example.com/en/collections/{k + 1}",
            "icon": "book",
            "order": k,
            "default_locale": "en",
            "translated_content": None,
            "parent_id": None,
            "help_center_id": 5001,
        }

    def _article(self, k: int) -> dict[str, Any]:
        r = rng(self.seed, "article", k)
        created, updated = self._catalog_time("article", k)
        parent = self.collections[k % len(self.collections)] if self.collections else None
        return {
            "type": "article",
            "id": self.codecs["articles"].encode(k),
            "workspace_id": self.workspace_id,
            "title": f"How to {_sentence(r, 3).lower()}",
            "description": _sentence(r, 6),
            "body": f"<p>{_sentence(r, 20)}</p>",
            "author_id": int(self.admins[k % len(self.admins)]["id"]),
            "state": "published" if r.random() < 0.8 else "draft",
            "created_at": created,
            "updated_at": updated,
            "url": f"https://help.example.com/en/articles/{k + 1}",
            "parent_id": int(parent["id"]) if parent else None,
            "parent_ids": [int(parent["id"])] if parent else [],
            "parent_type": "collection" if parent else None,
            "default_locale": "en",
            "translated_content": None,
            "tags": {"type": "tag.list", "tags": []},
        }

    def _newsfeed(self, k: int) -> dict[str, Any]:
        created, updated = self._catalog_time("newsfeed", k)
        return {
            "id": str(600 + k),
            "type": "newsfeed",
            "name": f"Newsfeed {k + 1}",
            "created_at": created,
            "updated_at": updated,
        }

    def _news_item(self, k: int) -> dict[str, Any]:
        r = rng(self.seed, "news_item", k)
        created, updated = self._catalog_time("news_item", k)
        feed = self.newsfeeds[k % len(self.newsfeeds)]
        return {
            "type": "news-item",
            "id": str(700 + k),
            "workspace_id": self.workspace_id,
            "title": f"New: {_sentence(r, 3)}",
            "body": f"<p>{_sentence(r, 15)}</p>",
            "sender_id": int(self.admins[k % len(self.admins)]["id"]),
            "state": "live" if r.random() < 0.7 else "draft",
            "newsfeed_assignments": [{"newsfeed_id": int(feed["id"]), "published_at": updated}],
            "labels": ["release"],
            "cover_image_url": None,
            "reactions": ["👍", "🎉"],
            "deliver_silently": False,
            "created_at": created,
            "updated_at": updated,
        }

    def _subscription_type(self, k: int) -> dict[str, Any]:
        name, description = [
            ("Newsletter", "Monthly product news"),
            ("Product updates", "Release notes"),
        ][k]
        translation = {"name": name, "description": description, "locale": "en"}
        return {
            "type": "subscription",
            "id": str(800 + k),
            "state": "live",
            "default_translation": translation,
            "translations": [translation],
            "consent_type": "opt_out",
            "content_types": ["email"],
        }

    def _activity_log(self, k: int) -> dict[str, Any]:
        r = rng(self.seed, "activity_log", k)
        admin = self.admins[r.randrange(len(self.admins))]
        activity = r.choice(ACTIVITY_TYPES)
        return {
            "id": f"{stable_hash(self.seed, 'log', k):016x}-{k:06d}",
            "performed_by": {
                "type": "admin",
                "id": admin["id"],
                "email": admin["email"],
                "ip": f"10.0.{k % 250}.{r.randrange(1, 250)}",
            },
            "metadata": {"before": {"name": "Old name"}, "after": {"name": "New name"}}
            if activity == "app_name_change"
            else {},
            "created_at": self.start
            + (k * self.span) // max(self.o.activity_logs, 1)
            + r.randrange(600),
            "activity_type": activity,
            "activity_description": f"{admin['name']} {activity.replace('_', ' ')}",
        }

    # ----- relations of the big kinds ---------------------------------------------------------
    def _contact_ref(self, index: int) -> dict[str, Any]:
        return _reference(index, self._contact_author(index))

    def contact_role(self, index: int) -> str:
        return self._contact_role(index)[0]

    def _contact_role(self, index: int) -> tuple[str, Any]:
        r = rng(self.seed, "contact", index)
        return ("user" if r.random() < 0.8 else "lead"), r

    def note_count(self, contact_index: int) -> int:
        r = rng(self.seed, "notes", contact_index)
        return r.randrange(25, 60) if r.random() < 0.02 else r.choice([0, 0, 1, 1, 2, 3])

    def company_segments_of(self, company_index: int) -> list[dict[str, Any]]:
        if not self.company_segment_list:
            return []
        r = rng(self.seed, "company-segments", company_index)
        picks = {r.randrange(len(self.company_segment_list)) for _ in range(r.choice([0, 1, 2]))}
        return [self.company_segment_list[k] for k in sorted(picks)]

    def _admin_author(self, k: int) -> dict[str, Any]:
        admin = self.admins[k]
        return {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}

    def _contact_author(self, contact_index: int, role: str | None = None) -> dict[str, Any]:
        """A contact as the author of a message, of type user or lead by its role, or of
        the given type (ticket parts know authors of type user only)."""
        own_role, r = self._contact_role(contact_index)
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        return {
            "type": role or own_role,
            "id": self.codecs["contacts"].encode(contact_index),
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}.{contact_index}@{r.choice(DOMAINS)}",
        }

    # ----- contacts ---------------------------------------------------------------------------
    def contact(self, i: int, created_at: int, updated_at: int) -> dict[str, Any]:
        return self.contact_with_memberships(i, created_at, updated_at)[0]

    def _crowded(
        self, i: int, company_ids: list[int], tag_ids: list[int]
    ) -> tuple[list[int], list[int]]:
        """With `drift`, some contacts carry more tags or companies than the embedded 10."""
        if not self.o.drift:
            return company_ids, tag_ids
        r = rng(self.seed, "crowded", i)
        if i % 9 == 4 and len(self.tags) > EMBEDDED_LIST_MAX:
            tag_ids = sorted(r.sample(range(len(self.tags)), min(11 + i % 7, len(self.tags))))
        if i % 13 == 6 and self.o.companies > EMBEDDED_LIST_MAX:
            size = min(11 + i % 5, self.o.companies)
            company_ids = sorted(r.sample(range(self.o.companies), size))
        return company_ids, tag_ids

    def contact_tags(self, i: int, tag_ids: list[int], created_at: int) -> list[dict[str, Any]]:
        """The tags `GET /contacts/{id}/tags` lists (all of them, with who applied them)."""
        return [
            {
                **self.tags[t],
                "applied_at": created_at + (n + 1) * 3600,
                "applied_by": {"type": "admin", "id": self.admins[t % len(self.admins)]["id"]},
            }
            for n, t in enumerate(tag_ids)
        ]

    def contact_with_memberships(
        self, i: int, created_at: int, updated_at: int
    ) -> tuple[dict[str, Any], list[int], list[int]]:
        """Contact i as served, with the indexes of all its companies and tags (the record
        embeds at most 10 of each)."""
        role, r = self._contact_role(i)
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        domain = r.choice(DOMAINS)
        contact_id = self.codecs["contacts"].encode(i)
        country, region, city = r.choice(CITIES)
        seen = r.random() < 0.85
        last_seen = max(created_at, updated_at - r.randrange(3 * DAY)) if seen else None
        n_companies = r.choice([0, 1, 1, 1, 2]) if self.o.companies else 0
        company_ids = sorted({r.randrange(self.o.companies) for _ in range(n_companies)})
        tag_ids = (
            sorted({r.randrange(self.o.tags) for _ in range(r.choice([0, 0, 1, 2]))})
            if self.o.tags
            else []
        )
        company_ids, tag_ids = self._crowded(i, company_ids, tag_ids)
        shown_tags, shown_companies = tag_ids[:EMBEDDED_LIST_MAX], company_ids[:EMBEDDED_LIST_MAX]
        notes = self.note_count(i)
        url = f"/contacts/{contact_id}"
        contact = {
            "type": "contact",
            "id": contact_id,
            "external_id": f"user-{i}" if role == "user" else None,
            "workspace_id": self.workspace_id,
            "role": role,
            "email": f"{first.lower()}.{last.lower()}.{i}@{domain}",
            "email_domain": domain,
            "phone": f"+1555{i % 10_000_000:07d}" if r.random() < 0.4 else None,
            "name": f"{first} {last}" if role == "user" or r.random() < 0.3 else None,
            "owner_id": int(self.admins[r.randrange(len(self.admins))]["id"])
            if r.random() < 0.5
            else None,
            "has_hard_bounced": r.random() < 0.02,
            "marked_email_as_spam": r.random() < 0.01,
            "unsubscribed_from_emails": r.random() < 0.1,
            "created_at": created_at,
            "updated_at": updated_at,
            "signed_up_at": created_at if role == "user" else None,
            "last_seen_at": last_seen,
            "last_replied_at": last_seen if seen and r.random() < 0.5 else None,
            "last_contacted_at": last_seen if seen and r.random() < 0.5 else None,
            "last_email_opened_at": None,
            "last_email_clicked_at": None,
            "language_override": None,
            "browser": r.choice(BROWSERS) if seen else None,
            "browser_version": f"{r.randrange(90, 130)}.0" if seen else None,
            "browser_language": "en" if seen else None,
            "os": r.choice(OSES) if seen else None,
            "android_app_name": None,
            "android_app_version": None,
            "android_device": None,
            "android_os_version": None,
            "android_sdk_version": None,
            "android_last_seen_at": None,
            "ios_app_name": None,
            "ios_app_version": None,
            "ios_device": None,
            "ios_os_version": None,
            "ios_sdk_version": None,
            "ios_last_seen_at": None,
            "custom_attributes": {
                "plan": r.choice(PLANS),
                "seats": r.randrange(1, 500),
                "vip": r.random() < 0.1,
                "trial_ends_at": created_at + 14 * DAY,
                "score": round(r.random() * 100, 2),
            },
            "avatar": {"type": "avatar", "image_url": None},
            "tags": {
                "data": [
                    {"type": "tag", "id": self.tags[t]["id"], "url": f"/tags/{self.tags[t]['id']}"}
                    for t in shown_tags
                ],
                "url": f"{url}/tags",
                "total_count": len(tag_ids),
                "has_more": len(tag_ids) > len(shown_tags),
            },
            "notes": {
                "data": [
                    {
                        "type": "note",
                        "id": self.note_id(i, n),
                        "url": f"/notes/{self.note_id(i, n)}",
                    }
                    for n in range(min(notes, EMBEDDED_LIST_MAX))
                ],
                "url": f"{url}/notes",
                "total_count": notes,
                "has_more": notes > EMBEDDED_LIST_MAX,
            },
            "companies": {
                "data": [
                    {
                        "id": self.codecs["companies"].encode(c),
                        "type": "company",
                        "url": f"/companies/{self.codecs['companies'].encode(c)}",
                    }
                    for c in shown_companies
                ],
                "url": f"{url}/companies",
                "total_count": len(company_ids),
                "has_more": len(company_ids) > len(shown_companies),
            },
            "location": {"type": "location", "country": country, "region": region, "city": city},
            "social_profiles": {"type": "list", "data": []},
        }
        return contact, company_ids, tag_ids

    def note_id(self, contact_index: int, n: int) -> str:
        return self.codecs["notes"].encode(contact_index * NOTE_SLOTS + n)

    def notes(self, contact_index: int, contact: dict[str, Any]) -> list[dict[str, Any]]:
        """A contact's notes, newest first (as Intercom lists them)."""
        notes = []
        count = self.note_count(contact_index)
        # Spread between creation and the anchor, so updating the contact leaves them alone.
        created = contact["created_at"]
        span = max(self.anchor - created, 0)
        for n in range(count):
            r = rng(self.seed, "note", contact_index, n)
            admin = self.admins[r.randrange(len(self.admins))]
            notes.append(
                {
                    "type": "note",
                    "id": self.note_id(contact_index, n),
                    "created_at": created + (span * (n + 1)) // (count + 1),
                    "contact": {"type": "contact", "id": contact["id"]},
                    "author": admin,
                    "body": f"<p>{_sentence(r, 8)}</p>",
                }
            )
        return sorted(notes, key=lambda note: (-note["created_at"], note["id"]))

    def events(self, contact_index: int, contact: dict[str, Any]) -> list[dict[str, Any]]:
        """A contact's data events over the last ~120 days before the anchor, newest first."""
        r = rng(self.seed, "events", contact_index)
        events = []
        for n in range(r.choice([0, 1, 2, 3, 5])):
            name = r.choice(EVENT_NAMES)
            event = {
                "type": "event",
                "id": f"{stable_hash(self.seed, 'event', contact_index, n):016x}",
                "event_name": name,
                "created_at": self.anchor - r.randrange(60, 120 * DAY),
                "intercom_user_id": contact["id"],
                "email": contact["email"],
                "metadata": {"source": r.choice(["web", "ios", "android"])},
            }
            if contact["external_id"]:  # leads have no user_id
                event["user_id"] = contact["external_id"]
            events.append(event)
        return sorted(events, key=lambda event: (-event["created_at"], event["id"]))

    # ----- companies --------------------------------------------------------------------------
    def company(self, i: int, created_at: int, updated_at: int) -> dict[str, Any]:
        r = rng(self.seed, "company", i)
        name = f"{r.choice(COMPANY_WORDS)} {r.choice(COMPANY_SUFFIXES)} {i}"
        plan = r.randrange(len(PLANS))
        tags = (
            sorted({r.randrange(self.o.tags) for _ in range(r.choice([0, 1]))})
            if self.o.tags
            else []
        )
        return {
            "type": "company",
            "id": self.codecs["companies"].encode(i),
            "name": name,
            "app_id": self.workspace_id,
            "plan": {"type": "plan", "id": str(100 + plan), "name": PLANS[plan]},
            "company_id": f"company-{i}",
            "remote_created_at": created_at - r.randrange(400 * DAY),
            "created_at": created_at,
            "updated_at": updated_at,
            "last_request_at": max(created_at, updated_at - r.randrange(5 * DAY)),
            "size": r.randrange(1, 5000),
            "website": f"https://{name.split()[0].lower()}{i}.example.com",
            "industry": r.choice(INDUSTRIES),
            "monthly_spend": r.randrange(0, 20000),
            "session_count": r.randrange(0, 10000),
            "user_count": r.randrange(0, 300),
            "custom_attributes": {
                "tier": r.choice(["gold", "silver", "bronze"]),
                "employees_band": r.choice(["1-10", "11-50", "51-200", "201+"]),
            },
            "tags": {"type": "tag.list", "tags": [self.tags[t] for t in tags]},
            "segments": {"type": "segment.list", "segments": self.company_segments_of(i)},
        }

    # ----- conversations ------------------------------------------------------------------------
    @staticmethod
    def is_big(i: int, count: int, big: int) -> bool:
        """Whether conversation i of `count` is one of the `big` with over 500 parts."""
        step = max(count // big, 1) if big else 1
        return bool(big) and i % step == 0 and i // step < big

    def base_part_count(self, kind: str, i: int, count: int, big: int) -> int:
        if kind == "conversations" and self.is_big(i, count, big):
            return 510 + stable_hash(self.seed, "big", i) % 150
        return 1 + stable_hash(self.seed, "parts", kind, i) % 8

    def _walked(self, key: tuple[str, int, int], walk: Callable[[], Any]) -> Any:
        """A record's walked lifecycle, memoised by (kind, index, number of parts): parts
        are only ever appended, so the number of parts names one walk of a record."""
        with self._walks_lock:
            found = self._walks.get(key)
            if found is not None:
                self._walks.move_to_end(key)
                return found
        found = walk()
        with self._walks_lock:
            self._walks[key] = found
            if len(self._walks) > WALKS_KEPT:
                self._walks.popitem(last=False)
        return found

    def conversation_lifecycle(
        self, i: int, created_at: int, parts: lifecycle.PartClock
    ) -> lifecycle.Conversation:
        walked: lifecycle.Conversation = self._walked(
            ("conversations", i, parts.count),
            lambda: lifecycle.walk_conversation(
                self.seed,
                i,
                created_at,
                parts,
                self.o.contacts,
                self.team_members,
                self.anchor,
            ),
        )
        return walked

    def conversation(
        self,
        i: int,
        created_at: int,
        updated_at: int,
        parts: lifecycle.PartClock,
        with_parts: bool,
    ) -> dict[str, Any]:
        life = self.conversation_lifecycle(i, created_at, parts)
        plan = life.plan
        r = rng(self.seed, "conversation", i)
        conversation_id = self.codecs["conversations"].encode(i)
        authors = {
            c: self._contact_author(c) for c in (plan.contact, plan.second_contact) if c is not None
        }
        admin = self.admins[plan.admin]
        tag_ids = (
            sorted({r.randrange(self.o.tags) for _ in range(r.choice([0, 1]))})
            if self.o.tags
            else []
        )
        stats = life.statistics
        conversation: dict[str, Any] = {
            "type": "conversation",
            "id": conversation_id,
            "title": None if r.random() < 0.6 else f"About {r.choice(WORDS)}",
            "created_at": created_at,
            "updated_at": updated_at,
            "waiting_since": life.waiting_since,
            "snoozed_until": life.snoozed_until,
            "open": life.state != "closed",
            "state": life.state,
            "read": r.random() < 0.7,
            "priority": "priority" if r.random() < 0.1 else "not_priority",
            "admin_assignee_id": int(self.admins[life.admin]["id"])
            if life.admin is not None
            else None,
            "team_assignee_id": int(self.teams[life.team]["id"]) if life.team is not None else None,
            "company": None,
            "tags": {
                "type": "tag.list",
                "tags": [
                    {
                        **self.tags[t],
                        "applied_at": created_at,
                        "applied_by": {"type": "admin", "id": admin["id"]},
                    }
                    for t in tag_ids
                ],
            },
            "conversation_rating": self._rating(life, authors),
            "source": {
                "type": r.choice(CONVERSATION_SOURCES),
                "id": str(stable_hash(self.seed, "source", i) % 10**9),
                "delivered_as": "admin_initiated" if plan.admin_initiated else "customer_initiated",
                "subject": "",
                "body": f"<p>{_sentence(r, 6)}</p>",
                "author": self._admin_author(plan.admin)
                if plan.contact is None or plan.admin_initiated
                else dict(authors[plan.contact]),
                "attachments": [],
                "url": None,
                "redacted": False,
            },
            "contacts": {
                "type": "contact.list",
                "contacts": [_reference(c, author) for c, author in authors.items()],
            },
            "teammates": {
                "type": "admin.list",
                "teammates": [
                    {"type": "admin", "id": self.admins[k]["id"]} for k in life.teammates
                ],
            },
            "custom_attributes": {
                "topic": r.choice(WORDS),
                "escalation_level": r.choice([0, 0, 0, 1, 2]),
            },
            "first_contact_reply": {
                "created_at": stats["first_contact_reply_at"],
                "type": "conversation",
                "url": None,
            }
            if stats["first_contact_reply_at"] is not None
            else None,
            "sla_applied": {
                "type": "conversation_sla_summary",
                "sla_name": plan.sla,
                "sla_status": life.sla_status,
            }
            if plan.sla is not None
            else None,
            "statistics": self._statistics(life),
            "linked_objects": {"type": "list", "total_count": 0, "has_more": False, "data": []},
            "ai_agent_participated": life.ai_agent_participated,
            "ai_agent": None,
        }
        if with_parts:
            conversation["conversation_parts"] = {
                "type": "conversation_part.list",
                "conversation_parts": self.conversation_parts(i, conversation_id, life, authors),
                "total_count": parts.count,
            }
        return conversation

    def _rating(
        self, life: lifecycle.Conversation, authors: dict[int, dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Asked at the first close (after the first contact reply), answered by the contact
        some time later (at the latest by the conversation's last part)."""
        plan = life.plan
        asked = life.statistics["first_close_at"]
        if not plan.rated or plan.contact is None or life.rating_teammate is None:
            return None
        return {
            "rating": plan.rating,
            "remark": plan.remark,
            "created_at": asked,
            "updated_at": min(asked + plan.rating_delay, life.parts[-1].at),
            "contact": _reference(plan.contact, authors[plan.contact]),
            "teammate": {"type": "admin", "id": self.admins[life.rating_teammate]["id"]},
        }

    def _statistics(self, life: lifecycle.Conversation) -> dict[str, Any]:
        """Intercom's statistics; a figure without a value is left out (the description
        types them as non-nullable integers)."""
        closer = life.last_close
        statistics: dict[str, Any] = {"type": "conversation_statistics"}
        for name, value in life.statistics.items():
            if value is not None:
                statistics[name] = value
            if name == "last_close_at" and closer is not None:
                statistics["last_closed_by_id"] = (
                    self.admins[closer.who]["id"] if closer.author == "admin" else BOT_ID
                )
        statistics["assigned_team_first_response_time"] = []
        statistics["assigned_team_first_response_time_in_office_hours"] = []
        statistics["adjusted_handling_time"] = None
        return statistics

    def conversation_parts(
        self,
        i: int,
        conversation_id: str,
        life: lifecycle.Conversation,
        authors: dict[int, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """The parts GET /conversations/{id} shows: the most recent 500, oldest first
        (`authors`: the conversation's contacts as authors)."""
        parts: list[dict[str, Any]] = []
        for n in range(max(len(life.parts) - PARTS_SHOWN, 0), len(life.parts)):
            part = life.parts[n]
            if part.author == "contact":
                author = dict(authors[part.who])  # a copy per part: drift edits authors
            elif part.author == "admin":
                author = self._admin_author(part.who)
            else:
                author = dict(self.bot)
            parts.append(
                {
                    "type": "conversation_part",
                    "id": str(int(conversation_id) * PART_SLOTS + n),
                    "part_type": part.part_type,
                    "body": self._part_body("conversation-part", i, n) if part.body else None,
                    "created_at": part.at,
                    "updated_at": part.at,
                    "notified_at": part.at,
                    "assigned_to": self._assignee_ref(part.assigned),
                    "author": author,
                    "attachments": [],
                    "external_id": None,
                    "redacted": False,
                    "state": part.state,
                    "tags": [],
                    "app_package_code": None,
                }
            )
        return parts

    def _part_body(self, kind: str, i: int, n: int) -> str:
        return f"<p>{_sentence(rng(self.seed, kind, i, n), 7)}</p>"

    def _assignee_ref(self, assigned: tuple[str, int] | None) -> dict[str, Any] | None:
        if assigned is None:
            return None
        kind, k = assigned
        return {"type": kind, "id": (self.admins if kind == "admin" else self.teams)[k]["id"]}

    # ----- tickets ---------------------------------------------------------------------------
    def ticket_lifecycle(
        self, i: int, parts: lifecycle.PartClock, updates: frozenset[int]
    ) -> lifecycle.Ticket:
        walked: lifecycle.Ticket = self._walked(
            ("tickets", i, parts.count),
            lambda: lifecycle.walk_ticket(
                self.seed,
                i,
                parts,
                updates,
                self.o.contacts,
                len(self.admins),
                len(self.teams),
                len(self.ticket_types),
                self.anchor,
            ),
        )
        return walked

    def ticket(
        self,
        i: int,
        created_at: int,
        updated_at: int,
        parts: lifecycle.PartClock,
        with_parts: bool,
        updates: frozenset[int],
    ) -> dict[str, Any]:
        life = self.ticket_lifecycle(i, parts, updates)
        r = rng(self.seed, "ticket", i)
        ticket_type = self.ticket_types[life.ticket_type]
        states = ticket_type["ticket_states"]["data"]
        ticket_id = self.codecs["tickets"].encode(i)
        ticket: dict[str, Any] = {
            "type": "ticket",
            "id": ticket_id,
            "ticket_id": str(i + 1),
            "category": ticket_type["category"],
            "ticket_attributes": {
                "_default_title_": f"{_sentence(r, 3)}",
                "_default_description_": _sentence(r, 10),
            },
            "ticket_state": next(s for s in states if s["category"] == life.category),
            "ticket_type": ticket_type,
            "contacts": {
                "type": "contact.list",
                "contacts": [self._contact_ref(life.contact)] if life.contact is not None else [],
            },
            # Unassigned is "0", as in the description's examples.
            "admin_assignee_id": self.admins[life.admin]["id"] if life.admin is not None else "0",
            "team_assignee_id": self.teams[life.team]["id"] if life.team is not None else "0",
            "created_at": created_at,
            "updated_at": updated_at,
            "open": life.category != "resolved",
            "linked_objects": {"type": "list", "total_count": 0, "has_more": False, "data": []},
            "is_shared": r.random() < 0.5,
        }
        if with_parts:
            ticket["ticket_parts"] = {
                "type": "ticket_part.list",
                "ticket_parts": self.ticket_parts(i, ticket_id, life),
                "total_count": parts.count,
            }
        return ticket

    def ticket_parts(self, i: int, ticket_id: str, life: lifecycle.Ticket) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for n, part in enumerate(life.parts):
            if part.author == "contact":
                author = self._contact_author(part.who, role="user")
            elif part.author == "admin":
                author = self._admin_author(part.who)
            else:
                author = dict(self.bot)
            parts.append(
                {
                    "type": "ticket_part",
                    "id": str(int(ticket_id) * PART_SLOTS + n),
                    "part_type": part.part_type,
                    "body": self._part_body("ticket-part", i, n) if part.body else None,
                    "previous_ticket_state": part.previous,
                    "ticket_state": part.category,
                    "created_at": part.at,
                    "updated_at": part.at,
                    "assigned_to": self._assignee_ref(part.assigned),
                    "author": author,
                    "attachments": [],
                    "external_id": None,
                    "redacted": False,
                    "updated_attribute_data": None,
                }
            )
        return parts


def _reference(index: int, author: dict[str, Any]) -> dict[str, Any]:
    """Contact `index`'s reference, from the contact as an author (`_contact_author`)."""
    return {
        "type": "contact",
        "id": author["id"],
        "external_id": f"user-{index}" if author["type"] == "user" else None,
    }
