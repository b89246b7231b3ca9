terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.27.0"
    }
  }

  # State in S3 with S3-native locking (Terraform >= 1.10). The state bucket is created
  # once per account by hand (docs/deploy.md, step 2), outside this configuration, so a
  # teardown never deletes the state of what it destroys.
  backend "s3" {
    key          = "mlops-platform/dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
    # bucket and region: terraform init -backend-config=backend.hcl (docs/deploy.md)
  }
}
