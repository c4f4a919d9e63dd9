"""One line for each mistake a user can make, naming what is wrong and the command that fixes it.

`explain` turns an exception into that line, or None for a bug (which should show its traceback).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

from contract.errors import InvalidUploadKey
from tools.layout import one_line

NOT_FOUND = "check the name (its flag, or the stack outputs: --stack, --local, --outputs) and the region"
CREDENTIALS = "check AWS_PROFILE and `aws sts get-caller-identity`; for the local stack pass --local"
# What to do about the error codes a user can cause, from the services the tools call.
HINTS = {
    "ResourceNotFoundException": NOT_FOUND,  # DynamoDB table, Step Functions
    "AWS.SimpleQueueService.NonExistentQueue": NOT_FOUND,
    "QueueDoesNotExist": NOT_FOUND,
    "NoSuchBucket": NOT_FOUND,
    "NotFound": NOT_FOUND,  # SNS topic
    "AccessDenied": "your credentials may not do this: " + CREDENTIALS,
    "AccessDeniedException": "your credentials may not do this: " + CREDENTIALS,
    "AuthorizationError": "your credentials may not do this: " + CREDENTIALS,
    "ExpiredToken": "your credentials have expired: `aws sso login`, or refresh them",
    "ExpiredTokenException": "your credentials have expired: `aws sso login`, or refresh them",
    "RequestExpired": "your credentials have expired, or the clock is wrong: `aws sso login`",
    "UnrecognizedClientException": "these credentials are not valid here: " + CREDENTIALS,
    "InvalidClientTokenId": "these credentials are not valid here: " + CREDENTIALS,
    "InvalidAccessKeyId": "these credentials are not valid here: " + CREDENTIALS,
    "SignatureDoesNotMatch": "these credentials are not valid here: " + CREDENTIALS,
    "ThrottlingException": "AWS is throttling the calls: wait, then run it again (with a lower --rate)",
    "ProvisionedThroughputExceededException": "the table is throttling: wait, then run it again",
}


def explain(error: BaseException) -> str | None:
    """The one line to print for `error`, or None when it is not the user's to fix."""
    if isinstance(error, ClientError):
        return _client_error(error)
    if isinstance(error, BotoCoreError):
        return _botocore_error(error)
    if isinstance(error, InvalidUploadKey | ValueError):  # ResourceError, ConfigError, a bad --sizes
        return one_line(error)
    return None


def _client_error(error: ClientError) -> str:
    details = error.response.get("Error", {})
    code, message = details.get("Code", "Unknown"), details.get("Message", "")
    said = f"{error.operation_name} failed: {code}" + (f" ({message})" if message else "")
    hint = HINTS.get(code)
    return one_line(f"{said}: {hint}" if hint else said)


def _botocore_error(error: BotoCoreError) -> str:
    if isinstance(error, NoRegionError):
        return ("no AWS region: set AWS_DEFAULT_REGION (or a profile's region), e.g. "
                "`export AWS_DEFAULT_REGION=eu-west-1`; for the local stack pass --local")
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return "no AWS credentials: `aws configure`, `aws sso login`, or set AWS_PROFILE; for the local stack pass " \
               "--local"
    if isinstance(error, ProfileNotFound):
        return f"{one_line(error)}: `aws configure list-profiles` lists them; set AWS_PROFILE to one"
    if isinstance(error, SSOError | TokenRetrievalError):
        return f"{one_line(error)}: `aws sso login`"
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return _unreachable(str(error.kwargs.get("endpoint_url", "")))
    if isinstance(error, ParamValidationError):  # e.g. a flag's value AWS would never accept
        return f"a value AWS does not accept: {one_line(error)}"
    return one_line(f"{type(error).__name__}: {error}")


def _unreachable(url: str) -> str:
    parts = urlsplit(url)
    endpoint = f"{parts.scheme}://{parts.netloc}" if parts.netloc else url
    if parts.hostname and parts.hostname.endswith(".amazonaws.com"):
        return f"cannot reach {endpoint}: check the network (a proxy, a VPN) and the region (AWS_DEFAULT_REGION)"
    return f"nothing answers at {endpoint}: is `python -m local serve` running?"
