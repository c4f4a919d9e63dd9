// ImagePipeline in a private VPC created for it, priced for volume (an EXPRESS workflow).
// Keys are the settings of docs/settings.md in camelCase; every one is optional.
import * as pulumi from "@pulumi/pulumi";
import * as imagePipeline from "@pulumi/image-pipeline";

const config = new pulumi.Config();

const images = new imagePipeline.ImagePipeline("images", {
    workflow: {
        type: "EXPRESS",                     // ~$1 per million executions instead of ~$250
        executionTimeoutSeconds: 300,        // EXPRESS's limit
        variantSizes: [1280, 640, 160],
        variantFormats: ["jpeg", "webp", "avif"],
        tracing: true,
    },
    functions: {
        variants: { memorySize: 1769, timeout: 60 },
        orchestrator: { batchingWindowSeconds: 5, maximumConcurrency: 50 },
    },
    deadLetterQueue: { maxReceiveCount: 5 },
    storage: { versioning: true, pointInTimeRecovery: true, protect: true },
    encryption: { mode: "kms" },
    // Subnets, security groups, the KMS key's ARN and alert addresses may be other resources' outputs or secrets.
    alarms: { emailSubscriptions: [config.requireSecret("oncallEmail")] },
    // No internet gateway, no NAT: every AWS call goes through a VPC endpoint (about $7.30 a month
    // per interface endpoint per AZ; `python -m tools cost` prices a stack).
    network: { createVpc: true, availabilityZones: 2, requireVpcEndpoints: true },
    tags: { team: "media" },
});

export const uploadBucket = images.inputBucketName;
export const variantsBucket = images.outputBucketName;
export const stateMachine = images.stateMachineArn;
export const functions = images.functionNames;
