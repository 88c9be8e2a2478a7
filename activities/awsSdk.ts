import type * as Iam from '@aws-sdk/client-iam';
import type * as S3 from '@aws-sdk/client-s3';
import type * as Sts from '@aws-sdk/client-sts';

export interface AwsSdk {
  iam: typeof Iam;
  s3: typeof S3;
  sts: typeof Sts;
}

let loading: Promise<AwsSdk> | undefined;

/**
 * The AWS SDK's IAM, S3 and STS clients, loaded on first use: ~30 MB of modules that a worker
 * which never rotates or validates AWS keys does not carry (the fleet's memory budget).
 */
export function awsSdk(): Promise<AwsSdk> {
  loading ??= Promise.all([
    import('@aws-sdk/client-iam'),
    import('@aws-sdk/client-s3'),
    import('@aws-sdk/client-sts'),
  ]).then(([iam, s3, sts]) => ({ iam, s3, sts }));
  return loading;
}
