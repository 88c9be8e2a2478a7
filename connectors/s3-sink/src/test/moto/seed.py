"""Seeds a throwaway moto server for S3ObjectWriterIntegrationTest (see ../../../README.md).

Start moto with INITIAL_NO_AUTH_ACTION_COUNT=5: these five calls run unauthenticated, every
request after them is signed and checked, as the sink meets it in the stack. Creates an IAM user
whose policy allows only the test bucket, its access key (written as two 0600 files, the
layout of the stack's secret store, so no key is ever on a command line), the test bucket and a
second bucket the policy does not allow.

usage: python seed.py ENDPOINT CREDENTIALS_DIR [BUCKET]
"""
import json
import os
import sys

import boto3

endpoint, creds_dir = sys.argv[1], sys.argv[2]
bucket = sys.argv[3] if len(sys.argv) > 3 else "rekey-it"
user = "rekey-it-s3-user"
session = boto3.session.Session(aws_access_key_id="seed", aws_secret_access_key="seed", region_name="us-east-1")
iam = session.client("iam", endpoint_url=endpoint)
s3 = session.client("s3", endpoint_url=endpoint, config=boto3.session.Config(s3={"addressing_style": "path"}))

iam.create_user(UserName=user)
iam.put_user_policy(UserName=user, PolicyName="bucket-only", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
                   "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}],
}))
key = iam.create_access_key(UserName=user)["AccessKey"]
s3.create_bucket(Bucket=bucket)
s3.create_bucket(Bucket=bucket + "-other")

os.makedirs(creds_dir, mode=0o700, exist_ok=True)
for name, value in (("access-key-id", key["AccessKeyId"]), ("secret-access-key", key["SecretAccessKey"])):
    path = os.path.join(creds_dir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
print(f"seeded user {user}, bucket {bucket} (+ {bucket}-other), key {key['AccessKeyId']} in {creds_dir}")
