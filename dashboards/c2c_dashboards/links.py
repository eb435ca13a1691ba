"""Where the drill-down links go: each dashboard's uid and slug, and the links panels share."""

from __future__ import annotations

from dataclasses import dataclass

from c2c_dashboards.panels import dashboard_url, link


@dataclass(frozen=True)
class Board:
    uid: str
    slug: str

    def url(self, **variables: str) -> str:
        return dashboard_url(self.uid, self.slug, **variables)


OVERVIEW = Board("c2c-overview", "code-to-container-observability-overview")
TRACEABILITY = Board("c2c-traceability", "code-to-container-traceability")
RELEASE_HISTORY = Board("c2c-release-history", "application-release-history")
JENKINS_BUILDS = Board("c2c-jenkins-builds", "jenkins-build-trace")
DEPLOYMENTS_OVER_TIME = Board("c2c-deployments-over-time", "deployments-over-time")
DEPLOYMENT_IMPACT = Board("c2c-deployment-impact", "deployment-impact-and-regression")
ARGOCD = Board("c2c-argocd", "argo-cd-deployment-monitoring")
RESOURCES = Board("c2c-resources", "kubernetes-resource-utilization")
POD_HEALTH = Board("c2c-pod-health", "pod-health-and-runtime-status")
DELIVERY = Board("c2c-delivery-performance", "delivery-performance")

# Table columns of one record (cluster, namespace, workload_name fields) link to its traceability.
TO_WORKLOAD = link("Traceability of this workload", TRACEABILITY.url(
    cluster="${__data.fields.cluster}", namespace="${__data.fields.namespace}", workload="${__value.raw}"))
TO_BUILD = link("This build's trace", JENKINS_BUILDS.url(build="${__value.raw}"))
TO_COMMIT = link("Builds that contain this commit", JENKINS_BUILDS.url(commit="${__value.raw}"))
TO_APP_DELIVERY = link("Delivery performance of this app", DELIVERY.url(
    cluster="${__data.fields.cluster}", app="${__value.raw}"))
