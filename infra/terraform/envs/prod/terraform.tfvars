# Account-specific values; the sizes of the environment are in main.tf.
region            = "eu-west-1"
github_repository = "mlops-platform/mlops-platform"
alert_emails      = []
