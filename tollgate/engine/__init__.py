"""The embedded engine: Step Functions (moto), a local Lambda runtime and a local CodeDeploy."""
