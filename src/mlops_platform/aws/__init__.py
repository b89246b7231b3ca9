"""The AWS side: the S3 data lake environment (``conf/aws``)."""
