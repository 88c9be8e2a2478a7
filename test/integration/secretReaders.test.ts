import { beforeEach, describe, expect, it } from 'vitest';
import { loadStackConfig, pipeline } from '../../scripts/stack/config.js';
import { connectUrl } from '../../scripts/stack/connect.js';
import { connectFetch } from '../../scripts/stack/connectRest.js';
import { s3SinkConnector } from '../../scripts/stack/s3Sink.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { createKafkaConnectActivities } from '../../activities/kafkaConnect.js';

/**
 * Which connectors a rotation must move, read from the real Connect as the pre-flights read it:
 * the CDC connector reads the database credential and the registry's `developer` account, the
 * S3 sink the AWS key and the registry's `probe` account, all through config-provider references.
 */
const cfg = loadStackConfig();
// as the worker calls it: basic auth with the REST credential from the store
const connect = createKafkaConnectActivities({
  url: connectUrl(cfg),
  fetch: (url, init) => connectFetch(String(url), init, cfg),
});
const secrets = new FileSecretStore(cfg.secretsDir);
const userOf = async (account: string) => (await secrets.read(pipeline.registrySecret))!.data[`${account}-user`]!;

/** This lane runs beside the pipeline files, which restart Connect: wait until its REST API lists the pipeline's connectors. */
beforeEach(async () => {
  await expect
    .poll(
      () =>
        connect.secretReaders({ secret: pipeline.cdcSecret }).then(
          (r) => r.readers,
          (e: Error) => e.message,
        ),
      { timeout: 90_000, interval: 1000 },
    )
    .toEqual([pipeline.connector]);
});

describe('the connectors that authenticate to the registry as an account', () => {
  it('finds each account’s clients by their config-provider references, and none for an account nobody uses', async () => {
    const clientsOf = async (account: string) =>
      connect.registryAccountClients({ secret: pipeline.registrySecret, account, currentUser: await userOf(account) });
    expect(await clientsOf('developer')).toEqual({ clients: [pipeline.connector], literal: [] });
    expect(await clientsOf('probe')).toEqual({ clients: [s3SinkConnector], literal: [] });
    expect(await clientsOf('admin')).toEqual({ clients: [], literal: [] });
    // another secret of the same name prefix is not a reference to this one
    expect(
      await connect.registryAccountClients({
        secret: `${pipeline.registrySecret}-x`,
        account: 'developer',
        currentUser: 'nobody',
      }),
    ).toEqual({ clients: [], literal: [] });
  });

  it('finds every connector that reads a secret, whatever the key', async () => {
    expect(await connect.secretReaders({ secret: pipeline.cdcSecret })).toEqual({ readers: [pipeline.connector] });
    expect(await connect.secretReaders({ secret: pipeline.awsSecret })).toEqual({ readers: [s3SinkConnector] });
    expect(await connect.secretReaders({ secret: pipeline.registrySecret })).toEqual({
      readers: [pipeline.connector, s3SinkConnector].sort(),
    });
  });
});
