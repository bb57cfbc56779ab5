"""Locust users for the launch-day load test: members browsing, searching, asking for partner
suggestions and saving their firm's profile.

Each simulated member signs in with an API token of an owner made by seed.py (the file named by
MATCHMAKER_LOAD_ACCOUNTS) and owns one firm. Between actions a member thinks for
MATCHMAKER_LOAD_THINK seconds ("1,3" by default; "0,0" for a saturation run).
"""

import itertools
import json
import os
import random

from locust import FastHttpUser, between, task

ACCOUNTS = json.loads(open(os.environ["MATCHMAKER_LOAD_ACCOUNTS"]).read())  # noqa: SIM115
_next_account = itertools.count()
_think = [float(x) for x in os.environ.get("MATCHMAKER_LOAD_THINK", "1,3").split(",")]

# What people type in the search box: trades, materials, places.
WORDS = ["legno", "mobili", "meccanica", "tessuti", "vino", "logistica", "imballaggi", "acciaio",
         "plastica", "software", "calzature", "ceramica", "Bergamo", "Prato", "Brescia", "Napoli",
         "formaggi", "stampi", "marmo", "occhiali", "pelle", "olio", "trasporti", "design"]
REGIONS = ["03", "05", "06", "08", "09", "12", "15", "16"]


class Member(FastHttpUser):
    """A signed-in owner of one firm."""

    wait_time = between(_think[0], _think[1])

    def on_start(self) -> None:
        """Take the next seeded account."""
        account = ACCOUNTS["users"][next(_next_account) % len(ACCOUNTS["users"])]
        self.piva = account["piva"]
        self.auth = {"Authorization": f"Bearer {account['token']}"}

    def _get(self, path: str, name: str) -> None:
        with self.client.get(path, headers=self.auth, name=name, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")

    @task(3)
    def browse_list(self) -> None:
        """Page through the registry."""
        self._get(f"/firms?page={random.randint(1, 400)}", "GET /firms?page=N (page)")

    @task(3)
    def firm_page(self) -> None:
        """Open another firm's page."""
        self._get(f"/firms/{random.choice(ACCOUNTS['firms'])}", "GET /firms/{piva} (page)")

    @task(2)
    def search_page(self) -> None:
        """Search the registry from the list page."""
        self._get(f"/firms?q={random.choice(WORDS)}", "GET /firms?q= (search page)")

    @task(1)
    def search_api(self) -> None:
        """Search through the API with a region filter."""
        self._get(f"/api/v1/firms?q={random.choice(WORDS)}&region={random.choice(REGIONS)}",
                  "GET /api/v1/firms?q=&region= (API)")

    @task(2)
    def recommendations(self) -> None:
        """Ask for partner suggestions for the member's own firm."""
        self._get(f"/api/v1/firms/{self.piva}/recommendations?limit=10",
                  "GET /api/v1/firms/{piva}/recommendations (API)")

    @task(1)
    def suggestions_page(self) -> None:
        """Open the suggestions panel of the member's own firm."""
        self._get(f"/firms/{self.piva}/suggestions", "GET /firms/{piva}/suggestions (page)")

    @task(1)
    def save_profile(self) -> None:
        """Read the member's firm and save a changed description of what it offers."""
        with self.client.get(f"/api/v1/firms/{self.piva}", headers=self.auth,
                             name="GET /api/v1/firms/{piva} (API)", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
                return
            firm = r.json()
        offers = f"{firm['offers'].split(' | ')[0]} | aggiornato {random.randint(1, 10**6)}"
        with self.client.request("PATCH", f"/api/v1/firms/{self.piva}", headers=self.auth,
                                 json={"offers": offers, "version": firm["version"]},
                                 name="PATCH /api/v1/firms/{piva} (save)",
                                 catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
