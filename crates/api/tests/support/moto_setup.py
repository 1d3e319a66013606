"""The S3 side of crates/api/tests/recording_archive.rs, with boto3 (installed with moto).

  moto_setup.py prepare ENDPOINT BUCKET
      On a moto server started with INITIAL_NO_AUTH_ACTION_COUNT=3 (IAM authentication on after
      three requests): an IAM user with full rights, its access key, and a bucket made with that
      key. Prints `<access key id> <secret>`.
  moto_setup.py get ENDPOINT BUCKET KEY ACCESS_KEY_ID SECRET
      Writes the object's bytes to standard output.
"""
import json
import sys

import boto3

mode, endpoint, bucket = sys.argv[1], sys.argv[2], sys.argv[3]


def s3(key_id, secret):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key_id, aws_secret_access_key=secret)


if mode == "prepare":
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="tsunagu")
    key = iam.create_access_key(UserName="tsunagu")["AccessKey"]
    iam.put_user_policy(UserName="tsunagu", PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }))
    s3(key["AccessKeyId"], key["SecretAccessKey"]).create_bucket(Bucket=bucket)
    print(key["AccessKeyId"], key["SecretAccessKey"])
elif mode == "get":
    obj = s3(sys.argv[5], sys.argv[6]).get_object(Bucket=bucket, Key=sys.argv[4])
    sys.stdout.buffer.write(obj["Body"].read())
else:
    sys.exit(f"unknown mode {mode}")
