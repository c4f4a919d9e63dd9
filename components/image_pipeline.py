"""`ImagePipeline`: the whole platform from one settings object.

Example (in a Pulumi program):
    >>> pipeline = ImagePipeline("images", {"queue": {"visibility_timeout_seconds": 360}})  # doctest: +SKIP
    >>> pulumi.export("input_bucket", pipeline.input_bucket_name)                           # doctest: +SKIP

No `from __future__ import annotations` here: Pulumi's analyzer reads the constructor's and the
outputs' annotations as types to infer the package schema (`provider/codegen.py`).
"""

import inspect
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.encryption import Keys, pipeline_keys
from components.environment import function_environment
from components.functions import PipelineFunction, attach_policy, function_role, handler_code, pipeline_function
from components.layers import build_pillow_layer, powertools_layer_arn
from components.monitoring import (
    Alerts,
    Monitoring,
    alerts_topic,
    dashboard,
    function_alarms,
    queue_alarms,
    workflow_alarms,
)
from components.network.endpoints import Endpoints, deny_outside_endpoint, vpc_endpoints
from components.network.services import SERVICE_SIDE_ROLES, interface_services
from components.network.vpc import Network, vpc_network
from components.queues import QueuePair, queue_pair, queue_policy
from components.settings.args import ImagePipelineArgs
from components.settings.config import Settings
from components.settings.loading import CONFIG_SOURCE, config_failure, settings_from_args
from components.settings.names import name_problems
from components.storage import Storage, secure_bucket, status_table
from components.workflow.resources import Workflow, events_to_queue_statement, workflow
from contract.functions import AFTER_WORKFLOW, UPLOAD_PREFIX

QUARANTINE_PREFIX = "quarantine/"  # flagged images' variants (`handlers.lifecycle.publication`)
STAGING_PREFIX = "staging/"  # with moderation, variants awaiting their verdict (`handlers.lifecycle.publication`)


@dataclass(frozen=True)
class Permissions:
    role_policies: dict[str, aws.iam.RolePolicy]
    bucket_policies: dict[str, aws.s3.BucketPolicy]


class ImagePipeline(pulumi.ComponentResource):
    """A serverless image pipeline: S3 uploads -> SQS (+ DLQ) -> orchestrator -> Step Functions ->
    DynamoDB status, with variants, metadata, alarms and alerts. Every input is optional; the defaults
    are the original design's."""

    # The outputs, each with its meaning: every language sees these (Pulumi's analyzer reads them for the schema,
    # `components.settings.docs` for the docs); the building blocks below are Python-only attributes.
    input_bucket_name: pulumi.Output[str]
    """The bucket users upload to, under `uploads/<user>/`."""
    output_bucket_name: pulumi.Output[str]
    """The bucket of the variants and metadata."""
    queue_url: pulumi.Output[str]
    """The upload queue (one message per upload)."""
    queue_arn: pulumi.Output[str]
    """ARN of the upload queue."""
    dead_letter_queue_url: pulumi.Output[str]
    """The dead-letter queue."""
    dead_letter_queue_arn: pulumi.Output[str]
    """ARN of the dead-letter queue."""
    state_machine_arn: pulumi.Output[str]
    """The Step Functions workflow run once per upload."""
    table_name: pulumi.Output[str]
    """The DynamoDB table of every image's status (`imageId` hash key, `userId` range key)."""
    topic_arn: pulumi.Output[str]
    """The SNS topic of alarms and alerts (the alarms and the DLQ processor publish here)."""
    function_names: pulumi.Output[dict[str, str]]
    """Each Lambda function's name, by its role (orchestrator, variants, ...)."""

    @classmethod
    def output_names(cls) -> list[str]:
        """The outputs, as annotated above."""
        return [name for name in inspect.get_annotations(ImagePipeline) if not name.startswith("_")]

    def __init__(self, name: str, args: ImagePipelineArgs,
                 opts: pulumi.ResourceOptions | None = None, *, camel_case_keys: bool = False) -> None:
        """`args`: the settings as a mapping (`components.settings.args`), validated here with every problem
        listed at once; or a `Settings` already validated (`components.load_settings()`).
        `camel_case_keys`: problems name keys as other languages spell them (the provider, `provider/inputs.py`)."""
        super().__init__("image-pipeline:index:ImagePipeline", name, None, opts)
        self._name = name
        self.camel_case_keys = camel_case_keys
        # Where a problem is, in messages: the stack's config, or this component's inputs in another language.
        self.problem_source = f"the inputs of ImagePipeline '{name}'" if self.camel_case_keys else CONFIG_SOURCE
        if isinstance(args, Settings) and name_problems(name):  # settings already validated: only the name
            raise config_failure(name_problems(name), camel_case=self.camel_case_keys, source=self.problem_source)
        self.settings = args if isinstance(args, Settings) else settings_from_args(
            args, camel_case=self.camel_case_keys, source=self.problem_source, name=name)
        settings = self.settings
        # Invokes with this component as parent use its providers: an explicit `aws` provider's
        # account and region, not the default provider's.
        invoke = pulumi.InvokeOptions(parent=self)
        self.account_id = aws.get_caller_identity(opts=invoke).account_id
        self.region = aws.get_region(opts=invoke).region
        self.tags = {"project": "image-pipeline", "pipeline": name, **settings.tags}

        self.keys: Keys = pipeline_keys(name, settings.encryption, self.account_id, self.tags, self)
        self.storage: Storage = self._storage()
        self._roles = {fn: function_role(fn, name, account_id=self.account_id, tags=self.tags, parent=self,
                                         in_vpc=settings.network.enabled) for fn in settings.created_functions()}
        self.network: Network | None = vpc_network(name, settings.network, services=self._interface_services(),
                                                   account_id=self.account_id, region=self.region, tags=self.tags,
                                                   parent=self, roles=list(self._roles.values()))
        self.queues: QueuePair = queue_pair(name, settings, self.keys.data_key_arn, self.tags, self)
        self.alerts: Alerts = alerts_topic(name, settings.alarms, account_id=self.account_id,
                                           kms_key_arn=self.keys.alerts_key_arn, tags=self.tags, parent=self)
        # Step functions first: the state machine names them, and the orchestrator names it.
        self._code = handler_code()  # one archive of handlers/ for every function
        self.functions: dict[str, PipelineFunction] = self._functions(self.settings.workflow_functions())
        self.workflow: Workflow = workflow(
            name, settings, account_id=self.account_id, table=self.storage.table, step_functions=self.functions,
            arns=self._arns(with_state_machine=False), output_bucket=self.storage.output_bucket.bucket.bucket,
            topic=self.alerts.topic, dead_letter_queue=self.queues.dead_letter_queue, tags=self.tags, parent=self)
        self.functions = self._functions(AFTER_WORKFLOW) | self.functions
        # Every role's policy document, once: the role policies, and the endpoint policies that mirror them.
        self._role_documents = self._arns().apply(policies.function_policies)
        self.endpoints: Endpoints | None = self._endpoints()
        self.permissions: Permissions = self._permissions()
        self._triggers()
        self.monitoring: Monitoring = self._monitoring()
        self._outputs()

    # -- building blocks -------------------------------------------------------------------

    def _storage(self) -> Storage:
        key, storage, tags = self.keys.data_key_arn, self.settings.storage, self.tags
        staging = STAGING_PREFIX if self.settings.moderation.enabled else None
        private = (QUARANTINE_PREFIX, staging) if staging else (QUARANTINE_PREFIX,)
        return Storage(
            input_bucket=secure_bucket(f"{self._name}-input", storage, key, tags, self),
            output_bucket=secure_bucket(f"{self._name}-output", storage, key, tags, self,
                                        account_id=self.account_id,
                                        private_prefixes=private,
                                        expiring_prefix=staging),
            table=status_table(f"{self._name}-status", storage, key, tags, self),
        )

    def _functions(self, names: tuple[str, ...]) -> dict[str, PipelineFunction]:
        fs, wf = self.settings.functions, self.settings.workflow
        pillow_layers: dict[str, aws.lambda_.LayerVersion] = {}

        def layers(name: str, architecture: str) -> list[pulumi.Input[str]]:
            arns: list[pulumi.Input[str]] = [powertools_layer_arn(
                self.region, architecture, fs.runtime, fs.powertools_layer_version)]
            if name in self.settings.workflow_functions():
                if architecture not in pillow_layers:
                    pillow_layers[architecture] = self._pillow_layer(architecture)
                arns.append(pillow_layers[architecture].arn)
            return arns

        environment = function_environment(
            self.settings, queue_url=self.queues.queue.url, dlq_url=self.queues.dead_letter_queue.url,
            table_name=self.storage.table.name, topic_arn=self.alerts.topic.arn,
            state_machine_arn=self.workflow.state_machine.arn if "orchestrator" in names else "",
            output_bucket=self.storage.output_bucket.bucket.bucket)
        return {name: pipeline_function(
            name, self._name, getattr(fs, name), role=self._roles[name], runtime=fs.runtime, code=self._code,
            layers=layers(name, getattr(fs, name).architecture),
            environment=environment[name], tracing=wf.tracing, tags=self.tags, parent=self, network=self.network)
            for name in names}

    def _pillow_layer(self, architecture: str) -> aws.lambda_.LayerVersion:
        fs = self.settings.functions
        folder = build_pillow_layer(fs.pillow_version, architecture, fs.runtime)
        return aws.lambda_.LayerVersion(
            f"{self._name}-pillow-{architecture.replace('_', '-')}",
            layer_name=f"{self._name}-pillow-{fs.runtime.replace('.', '')}-{architecture}",
            description=f"Pillow {fs.pillow_version} wheels for {fs.runtime} on {architecture}",
            code=pulumi.FileArchive(str(folder)),
            compatible_architectures=[architecture], compatible_runtimes=[fs.runtime],
            opts=pulumi.ResourceOptions(parent=self))

    def _arns(self, with_state_machine: bool = True) -> pulumi.Output[policies.PipelineArns]:
        """Every ARN the policies name, resolved together."""
        s, q = self.storage, self.queues
        named = {
            "upload_queue": q.queue.arn, "dead_letter_queue": q.dead_letter_queue.arn,
            "table": s.table.arn, "topic": self.alerts.topic.arn,
            "input_bucket": s.input_bucket.bucket.arn, "output_bucket": s.output_bucket.bucket.arn,
            "alerts_key": self.keys.alerts_key_arn,
            "state_machine": self.workflow.state_machine.arn if with_state_machine else "",
            "kms_key": self.keys.data_key_arn or "",
            "step_functions": {n: self.functions[n].function.arn for n in self.settings.workflow_functions()},
            "log_groups": {n: fn.log_group.arn for n, fn in self.functions.items()},
        }
        return pulumi.Output.all(**named).apply(lambda a: policies.PipelineArns(
            account_id=self.account_id, tracing=self.settings.workflow.tracing,
            moderation=self.settings.moderation.enabled, workflow_type=self.settings.workflow.kind,
            **(a | {"kms_key": a["kms_key"] or None})))

    def _interface_services(self) -> list[str]:
        return interface_services(customer_key=self.settings.encryption.customer_key,
                                  tracing=self.settings.workflow.tracing)

    def _endpoints(self) -> Endpoints | None:
        """The VPC endpoints, each allowing what the functions' role policies allow for its service."""
        if self.network is None or not self.settings.network.endpoints:
            return None
        return vpc_endpoints(self._name, self.network, self._interface_services(), region=self.region,
                             function_policies=self._role_documents,
                             roles={name: fn.role.arn for name, fn in self.functions.items()},
                             tags=self.tags, parent=self)

    def _outside_endpoint(self, service: str, resources: list[pulumi.Input[str]],
                          exempt: tuple[str, ...] = ()) -> list[pulumi.Output[dict]]:
        """With `require_vpc_endpoints`, the deny for `resources` (`components.network.endpoints`)."""
        if self.endpoints is None or not self.settings.network.require_vpc_endpoints:
            return []
        roles = [fn.role.arn for name, fn in self.functions.items() if name not in exempt]
        return [deny_outside_endpoint(self.endpoints, service, resources, roles)]

    def _reachable(self) -> list[pulumi.Resource]:
        """What the triggers wait for: in a VPC without NAT, the functions reach AWS only once the endpoints exist."""
        return [*self.endpoints.interface.values(), *self.endpoints.gateway.values()] if self.endpoints else []

    def _permissions(self) -> Permissions:
        documents = self._role_documents
        role_policies = {name: attach_policy(fn, documents.apply(lambda d, n=name: d[n]))
                         for name, fn in self.functions.items()}
        role = {name: fn.role.arn for name, fn in self.functions.items()}
        dlq, s = self.queues.dead_letter_queue, self.storage
        queue_policy(f"{self._name}-queue-policy", self.queues.queue,
                     producers=[role["s3_event_handler"]], consumers=[role["orchestrator"]],
                     extra_statements=self._outside_endpoint("sqs", [self.queues.queue.arn],
                                                             SERVICE_SIDE_ROLES["upload_queue"]))
        rule = self.workflow.unfinished_rule
        # STANDARD: EventBridge sends unfinished executions; EXPRESS: the workflow reports them itself.
        queue_policy(f"{self._name}-dlq-policy", dlq,
                     producers=[role["s3_event_handler"]] + ([] if rule else [self.workflow.role.arn]),
                     consumers=[role["dlq_processor"]],
                     extra_statements=([pulumi.Output.all(dlq.arn, rule.arn).apply(
                         lambda a: events_to_queue_statement(*a))] if rule else [])
                     + self._outside_endpoint("sqs", [dlq.arn], SERVICE_SIDE_ROLES["dead_letter_queue"]))
        buckets = {key: bucket.attach_policy(self._outside_endpoint(
                       "s3", [bucket.bucket.arn, bucket.bucket.arn.apply(lambda arn: f"{arn}/*")]))
                   for key, bucket in (("input", s.input_bucket), ("output", s.output_bucket))}
        return Permissions(role_policies=role_policies, bucket_policies=buckets)

    def _triggers(self) -> None:
        fns = self.functions
        handler = fns["s3_event_handler"].function
        bucket = self.storage.input_bucket.bucket
        permission = aws.lambda_.Permission(
            f"{self._name}-s3-invoke", action="lambda:InvokeFunction", function=handler.name,
            principal="s3.amazonaws.com", source_arn=bucket.arn, source_account=self.account_id,
            opts=pulumi.ResourceOptions(parent=handler))
        # One notification per bucket: a second would silently replace this one.
        aws.s3.BucketNotification(
            f"{self._name}-input-notification", bucket=bucket.id,
            # Prefix only: suffix filters are case-sensitive (`.Jpg` would raise no event at all).
            lambda_functions=[{"lambda_function_arn": handler.arn, "events": ["s3:ObjectCreated:*"],
                               "filter_prefix": UPLOAD_PREFIX}],
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[permission, *self._reachable()]))
        aws.lambda_.FunctionEventInvokeConfig(
            f"{self._name}-s3-event-retries", function_name=handler.name,
            maximum_retry_attempts=2, maximum_event_age_in_seconds=6 * 3600,
            destination_config={"on_failure": {"destination": self.queues.dead_letter_queue.arn}},
            opts=pulumi.ResourceOptions(parent=handler,
                                        depends_on=[self.permissions.role_policies["s3_event_handler"]]))
        for consumer, queue in (("orchestrator", self.queues.queue),
                                ("dlq_processor", self.queues.dead_letter_queue)):
            settings = getattr(self.settings.functions, consumer)
            scaling = ({"maximum_concurrency": settings.maximum_concurrency}
                       if settings.maximum_concurrency is not None else None)
            aws.lambda_.EventSourceMapping(
                f"{self._name}-{consumer.replace('_', '-')}-trigger",
                event_source_arn=queue.arn, function_name=fns[consumer].function.arn,
                batch_size=settings.batch_size,
                maximum_batching_window_in_seconds=settings.batching_window_seconds,
                function_response_types=["ReportBatchItemFailures"],
                scaling_config=scaling, tags=self.tags,
                # AWS checks the role may receive from the queue when creating the mapping.
                opts=pulumi.ResourceOptions(parent=fns[consumer].function,
                                            depends_on=[self.permissions.role_policies[consumer], *self._reachable()]))

        self._reconciler_schedule()

    def _reconciler_schedule(self) -> None:
        """EventBridge runs the reconciler every `workflow.reconcile_every_minutes`."""
        minutes = self.settings.workflow.reconcile_every_minutes
        reconciler = self.functions["reconciler"].function
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-reconcile-schedule", description="Repairs or fails images left queued or processing",
            schedule_expression=f"rate({minutes} minute{'s' if minutes > 1 else ''})", tags=self.tags,
            opts=pulumi.ResourceOptions(parent=reconciler))
        permission = aws.lambda_.Permission(
            f"{self._name}-reconcile-invoke", action="lambda:InvokeFunction", function=reconciler.name,
            principal="events.amazonaws.com", source_arn=rule.arn, opts=pulumi.ResourceOptions(parent=rule))
        aws.cloudwatch.EventTarget(
            f"{self._name}-reconcile-target", rule=rule.name, arn=reconciler.arn,
            opts=pulumi.ResourceOptions(parent=rule, depends_on=[permission, *self._reachable()]))

    def _monitoring(self) -> Monitoring:
        s, q, topic = self.settings, self.queues, self.alerts.topic
        functions = {role: fn.function for role, fn in self.functions.items()}
        original = queue_alarms(self._name, s.alarms, queue=q.queue, dead_letter_queue=q.dead_letter_queue,
                                topic=topic, tags=self.tags, parent=self)
        alarms = original.alarms | function_alarms(
            self._name, s.alarms, functions=functions, topic=topic, tags=self.tags, parent=self,
            timeouts={role: getattr(s.functions, role).timeout for role in functions}) | workflow_alarms(
            self._name, s.alarms, state_machine=self.workflow.state_machine, queue=q.queue,
            events_dead_letter_queue=self.workflow.events_dead_letter_queue, topic=topic, tags=self.tags, parent=self)
        board = dashboard(self._name, region=self.region, queue=q.queue, dead_letter_queue=q.dead_letter_queue,
                          state_machine=self.workflow.state_machine, functions=functions,
                          parent=self) if s.alarms.dashboard else None
        return Monitoring(alarms=alarms, dashboard=board)

    def _outputs(self) -> None:
        s, q = self.storage, self.queues
        self.input_bucket_name = s.input_bucket.bucket.bucket
        self.output_bucket_name = s.output_bucket.bucket.bucket
        self.queue_url, self.queue_arn = q.queue.url, q.queue.arn
        self.dead_letter_queue_url = q.dead_letter_queue.url
        self.dead_letter_queue_arn = q.dead_letter_queue.arn
        self.state_machine_arn = self.workflow.state_machine.arn
        self.table_name = s.table.name
        self.topic_arn = self.alerts.topic.arn
        self.function_names = pulumi.Output.all(**{n: fn.function.name for n, fn in self.functions.items()})
        self.register_outputs({name: getattr(self, name) for name in self.output_names()})

