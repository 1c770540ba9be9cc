"""The one Logger and the one Metrics every function uses; service, level and namespace come from the environment."""

import os
import warnings

from aws_lambda_powertools import Logger, Metrics

# template.yaml sets a namespace per stack; a function run without it (sam local invoke) still publishes.
DEFAULT_METRICS_NAMESPACE = "Tollgate"

logger = Logger()
# No `service` dimension: the namespace already names the stack, and one dimension (the lifecycle event) keeps
# every alarm and dashboard query to one name and one value.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE, service="")

# Most invocations record nothing (an ECS poll, a repeated hook call, the probe): that is expected, not a warning
# to write into every such invocation's log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
