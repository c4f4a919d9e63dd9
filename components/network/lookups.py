"""What the endpoints need to know of the region and the VPC before anything is created (at preview).

- Each endpoint service is offered in some AZs only (DescribeVpcEndpointServices): an interface endpoint
  goes in the AZs both the functions and its service have, and needs two of them.
- Your VPC may have endpoints for the same services already: a second interface endpoint with private DNS
  fails ("conflicting DNS domain"), and a gateway endpoint's policy governs every workload on its route
  tables. Either is a problem naming `network.endpoints`, never a surprise during `pulumi up`.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.network.services import GATEWAY_SERVICES, service_name

# What an endpoint is while it exists (DescribeVpcEndpoints' vpc-endpoint-state filter).
LIVE_STATES = ["pendingAcceptance", "pending", "available"]


def service_zones(services: list[str], zones: list[str], region: str, invoke: pulumi.InvokeOptions, key: str,
                  remedy: str) -> tuple[dict[str, list[str]], list[str]]:
    """Each interface service's AZs among `zones` (in their order), and a problem naming `key` for each offered
    in fewer than two of them."""
    offered: dict[str, list[str]] = {}
    problems: list[str] = []
    for service in services:
        name = service_name(region, service)
        available = aws.ec2.get_vpc_endpoint_service(service_name=name, service_type="Interface",
                                                     opts=invoke).availability_zones
        offered[service] = [zone for zone in zones if zone in available]
        if len(offered[service]) < 2:
            problems.append(f"{key}: {name} is offered in {', '.join(sorted(available))}: of the AZs here "
                            f"({', '.join(zones)}) only {', '.join(offered[service]) or 'none'}, and its endpoint "
                            f"needs two (it survives an AZ outage only then); {remedy}")
    return offered, problems


def existing_endpoints(vpc_id: str, services: list[str], route_table_ids: list[str], region: str,
                       invoke: pulumi.InvokeOptions) -> list[str]:
    """A problem naming `network.endpoints` if `vpc_id` already has an endpoint the pipeline's would clash with:
    an interface endpoint with private DNS, or a gateway endpoint on the functions' route tables."""
    clashes = []
    for service in services:
        try:
            found = aws.ec2.get_vpc_endpoint(vpc_id=vpc_id, service_name=service_name(region, service),
                                             filters=[{"name": "vpc-endpoint-state", "values": LIVE_STATES}],
                                             opts=invoke)
        except Exception as error:  # the data source fails unless exactly one endpoint matches
            if "no matching" in str(error).lower():
                continue
            if "multiple" not in str(error).lower():
                raise
            clashes.append(f"several {service} endpoints")
            continue
        if service in GATEWAY_SERVICES:
            shared = [table for table in found.route_table_ids if table in route_table_ids]
            if shared:
                clashes.append(f"{found.id} ({service} gateway on {', '.join(shared)}: its policy governs every "
                               "workload there)")
        elif found.private_dns_enabled:
            clashes.append(f"{found.id} ({service}, private DNS: a second would fail with a conflicting DNS domain)")
    if not clashes:
        return []
    return [f"network.endpoints: {vpc_id} already has endpoints this pipeline would create: {', '.join(clashes)}; "
            "set endpoints: false and let their policies allow this pipeline (docs/deploy.md, VPC placement)"]
