"""Run the pipeline on moto, in one process, with the real handlers and definitions.

Importing this package points every AWS client of the process at a fixed test region with
dummy credentials: nothing here can reach a real account, even by mistake.
"""

import os

os.environ.update({"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                   "POWERTOOLS_METRICS_NAMESPACE": "ImagePipeline"})
# The README has users export AWS_ENDPOINT_URL for their clients; the emulator's own must not follow it.
for _variable in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")] + [
        "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"]:
    os.environ.pop(_variable, None)
