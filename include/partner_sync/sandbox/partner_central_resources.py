"""Partner Central emulator: what engagements hold besides members, and what opportunities
link to: resource snapshots of opportunities, resource snapshot jobs, and partner solutions.
"""

from __future__ import annotations

from typing import Any

from partner_sync import ace_model
from partner_sync.sandbox.partner_central_support import (
    OPPORTUNITY_SNAPSHOT_TEMPLATE,
    PARTNER_ACCOUNT_ID,
    PartnerCentralStore,
    arn,
    business_error,
    instant,
    matches_any,
    not_found,
    operation,
    page,
    random_suffix,
    sort_items,
    with_token,
)


class ResourceOperations(PartnerCentralStore):
    """Snapshots, snapshot jobs and solutions of :class:`PartnerCentralEmulator`."""

    # ----------------------------------------------------------------- resource snapshots
    def _snapshot_target(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        engagement = self.engagement(params["Catalog"], params["EngagementIdentifier"])
        opportunity = self.find(
            "opportunities", params["Catalog"], params["ResourceIdentifier"], "Opportunity"
        )
        linked = {r["ResourceId"] for r in engagement.get("Resources") or []}
        if opportunity["Id"] not in linked:
            # UNCONFIRMED: the error for a resource outside the engagement
            raise business_error(
                "ResourceIdentifier", ace_model.INVALID_VALUE,
                f"Opportunity {opportunity['Id']} is not associated with engagement {engagement['Id']}.",
            )
        return engagement, opportunity

    def take_snapshot(
        self, catalog: str, engagement_id: str, opportunity: dict[str, Any], template: str,
        only_if_changed: bool = False,
    ) -> dict[str, Any] | None:
        summary = {**opportunity, "Lifecycle": opportunity.get("LifeCycle")}
        payload = {"OpportunitySummary": ace_model.project("OpportunitySummaryView", summary)}
        earlier = sorted(
            (s for s in self.state["resource_snapshots"].values()
             if (s["Catalog"], s["EngagementId"], s["ResourceId"], s["ResourceSnapshotTemplateName"])
             == (catalog, engagement_id, opportunity["Id"], template)),
            key=lambda s: s["Revision"],
        )
        if only_if_changed and earlier and earlier[-1]["Payload"] == payload:
            return None
        revision = earlier[-1]["Revision"] + 1 if earlier else 1
        snapshot_arn = arn(catalog, "engagement",
                           f"{engagement_id}/resource/Opportunity/{opportunity['Id']}"
                           f"/template/{template}/revision/{revision}")
        snapshot = {
            "Catalog": catalog, "Arn": snapshot_arn, "CreatedBy": PARTNER_ACCOUNT_ID,
            "CreatedAt": self.clock.stamp(), "EngagementId": engagement_id,
            "ResourceType": "Opportunity", "ResourceId": opportunity["Id"],
            "ResourceSnapshotTemplateName": template, "Revision": revision, "Payload": payload,
        }
        self.state["resource_snapshots"][snapshot_arn] = snapshot
        return snapshot

    @operation("CreateResourceSnapshot")
    def create_resource_snapshot(self, params: dict[str, Any]) -> dict[str, Any]:
        def produce() -> dict[str, Any]:
            engagement, opportunity = self._snapshot_target(params)
            snapshot = self.take_snapshot(
                params["Catalog"], engagement["Id"], opportunity,
                params["ResourceSnapshotTemplateIdentifier"],
            )
            return {"Arn": snapshot["Arn"], "Revision": snapshot["Revision"]}

        return self.idempotent("CreateResourceSnapshot", params, produce)

    def create_snapshot_job(
        self, catalog: str, engagement_id: str, opportunity_id: str,
        template: str = OPPORTUNITY_SNAPSHOT_TEMPLATE,
    ) -> dict[str, Any]:
        """A Running job: it snapshots the opportunity now and after every change (a new
        revision only when the opportunity differs from the latest snapshot)."""
        identifier = f"job-{random_suffix(13)}"
        opportunity = self.state["opportunities"][opportunity_id]
        job = {
            "Catalog": catalog, "Id": identifier, "Arn": arn(catalog, "resource-snapshot-job", identifier),
            "EngagementId": engagement_id, "ResourceType": "Opportunity", "ResourceId": opportunity_id,
            "ResourceArn": opportunity["Arn"], "ResourceSnapshotTemplateName": template,
            "CreatedAt": self.clock.stamp(), "Status": "Running",
        }
        self.snapshot_jobs[identifier] = job
        self.take_snapshot(catalog, engagement_id, opportunity, template, only_if_changed=True)
        job["LastSuccessfulExecutionDate"] = self.clock.stamp()
        return job

    def run_snapshot_jobs(self, opportunity: dict[str, Any]) -> None:
        """Running jobs snapshot a changed opportunity again (only if it changed)."""
        for job in self.snapshot_jobs.values():
            if job["Status"] == "Running" and job["ResourceId"] == opportunity["Id"]:
                if self.take_snapshot(job["Catalog"], job["EngagementId"], opportunity,
                                      job["ResourceSnapshotTemplateName"], only_if_changed=True):
                    job["LastSuccessfulExecutionDate"] = self.clock.stamp()

    @operation("CreateResourceSnapshotJob")
    def create_resource_snapshot_job(self, params: dict[str, Any]) -> dict[str, Any]:
        def produce() -> dict[str, Any]:
            engagement, opportunity = self._snapshot_target(params)
            job = self.create_snapshot_job(
                params["Catalog"], engagement["Id"], opportunity["Id"],
                params["ResourceSnapshotTemplateIdentifier"],
            )
            return {"Id": job["Id"], "Arn": job["Arn"]}

        return self.idempotent("CreateResourceSnapshotJob", params, produce)

    @operation("GetResourceSnapshotJob")
    def get_resource_snapshot_job(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self.snapshot_jobs.get(params["ResourceSnapshotJobIdentifier"])
        if job is None or job["Catalog"] != params["Catalog"]:
            raise not_found(f"Resource snapshot job {params['ResourceSnapshotJobIdentifier']} not found.")
        return ace_model.project(ace_model.output_shape("GetResourceSnapshotJob"), job)

    @operation("ListResourceSnapshotJobs")
    def list_resource_snapshot_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        jobs = [
            j for j in self.snapshot_jobs.values()
            if j["Catalog"] == params["Catalog"]
            and (not params.get("EngagementIdentifier") or j["EngagementId"] == params["EngagementIdentifier"])
            and (not params.get("Status") or j["Status"] == params["Status"])
        ]
        ordered = sort_items(jobs, params.get("Sort"), {"CreatedDate": lambda j: instant(j["CreatedAt"])},
                             default=("CreatedDate", "DESCENDING"))
        chunk, token = page(ordered, params, maximum=1000)
        shape = ace_model.service_model().shape_for("ResourceSnapshotJobSummary")
        return with_token({"ResourceSnapshotJobSummaries": [ace_model.project(shape, j) for j in chunk]}, token)

    @operation("ListResourceSnapshots")
    def list_resource_snapshots(self, params: dict[str, Any]) -> dict[str, Any]:
        snapshots = [
            s for s in self.in_catalog("resource_snapshots", params["Catalog"])
            if s["EngagementId"] == params["EngagementIdentifier"]
            and (not params.get("ResourceType") or s["ResourceType"] == params["ResourceType"])
            and (not params.get("ResourceIdentifier") or s["ResourceId"] == params["ResourceIdentifier"])
            and (not params.get("ResourceSnapshotTemplateIdentifier")
                 or s["ResourceSnapshotTemplateName"] == params["ResourceSnapshotTemplateIdentifier"])
            and (not params.get("CreatedBy") or s.get("CreatedBy") == params["CreatedBy"])
        ]
        snapshots.sort(key=lambda s: (s["ResourceId"], s["ResourceSnapshotTemplateName"], s["Revision"]))
        chunk, token = page(snapshots, params, maximum=1000)
        shape = ace_model.service_model().shape_for("ResourceSnapshotSummary")
        return with_token({"ResourceSnapshotSummaries": [ace_model.project(shape, s) for s in chunk]}, token)

    @operation("GetResourceSnapshot")
    def get_resource_snapshot(self, params: dict[str, Any]) -> dict[str, Any]:
        matching = sorted(
            (s for s in self.in_catalog("resource_snapshots", params["Catalog"])
             if s["EngagementId"] == params["EngagementIdentifier"]
             and s["ResourceType"] == params["ResourceType"]
             and s["ResourceId"] == params["ResourceIdentifier"]
             and s["ResourceSnapshotTemplateName"] == params["ResourceSnapshotTemplateIdentifier"]
             and params.get("Revision") in (None, s["Revision"])),
            key=lambda s: s["Revision"],
        )
        if not matching:
            raise not_found("Resource snapshot not found.")
        return ace_model.project(ace_model.output_shape("GetResourceSnapshot"), matching[-1])

    # ----------------------------------------------------------------- solutions
    @operation("ListSolutions")
    def list_solutions(self, params: dict[str, Any]) -> dict[str, Any]:
        solutions = [
            s for s in self.in_catalog("solutions", params["Catalog"])
            if matches_any(s.get("Status"), params.get("Status"))
            and matches_any(s["Id"], params.get("Identifier"))
            and matches_any(s.get("Category"), params.get("Category"))
        ]
        ordered = sort_items(
            solutions, params.get("Sort"),
            {"Identifier": lambda s: int(s["Id"][2:]), "Name": lambda s: s.get("Name"),
             "Status": lambda s: s.get("Status"), "Category": lambda s: s.get("Category"),
             "CreatedDate": lambda s: instant(s["CreatedDate"])},
            default=("Identifier", "ASCENDING"),
        )
        chunk, token = page(ordered, params, maximum=100)
        shape = ace_model.service_model().shape_for("SolutionBase")
        return with_token({"SolutionSummaries": [ace_model.project(shape, s) for s in chunk]}, token)
