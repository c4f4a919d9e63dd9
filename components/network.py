"""VPC placement: the functions in private subnets, every AWS call through a VPC endpoint.

`network.subnet_ids` places the functions in your VPC; `network.create_vpc` creates a minimal private
one (one subnet per AZ, no internet gateway, no NAT). Without a NAT, an AWS service with no endpoint
is unreachable, so every service the functions call has one:

    >>> from components.config import Settings
    >>> interface_services(Settings.from_dict({"network": {"create_vpc": True}}))
    ['sqs', 'states', 'sns', 'logs', 'monitoring']
"""

from __future__ import annotations

from components.config import Settings

# Gateway endpoints are free; interface endpoints are billed per AZ per hour and per GB.
GATEWAY_SERVICES = ("s3", "dynamodb")


def interface_services(settings: Settings) -> list[str]:
    """The interface endpoints a stack needs: always SQS, Step Functions, SNS, CloudWatch Logs and
    Monitoring; KMS with a customer key; X-Ray with tracing."""
    services = ["sqs", "states", "sns", "logs", "monitoring"]
    if settings.encryption.mode == "kms":
        services.append("kms")
    if settings.workflow.tracing:
        services.append("xray")
    return services
