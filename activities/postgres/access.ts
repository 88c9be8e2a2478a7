import type pg from 'pg';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import { AUTH_FAILED, pgCode, type Connections } from './connection.js';

export function createAccessActivities(conns: Connections) {
  async function publicationTables(publication: string): Promise<Array<{ schema: string; table: string }>> {
    return conns.withAdmin(async (c) => {
      if ((await c.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication])).rowCount === 0) {
        throw ApplicationFailure.nonRetryable(`publication ${publication} does not exist`, 'PublicationMissing');
      }
      const { rows } = await c.query<{ schemaname: string; tablename: string }>(
        'SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2',
        [publication],
      );
      return rows.map((r) => ({ schema: r.schemaname, table: r.tablename }));
    });
  }

  async function connectAs(secret: string): Promise<pg.Client> {
    try {
      return await conns.connect({ secret, userKey: 'db-username', passwordKey: 'db-password' });
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      const message = `login with secret ${secret} failed: ${(err as Error).message}`;
      throw AUTH_FAILED.has(pgCode(err) ?? '')
        ? ApplicationFailure.nonRetryable(message, 'LoginFailed')
        : ApplicationFailure.retryable(message, 'PostgresUnavailable');
    }
  }

  /**
   * Logs in with a secret's credential (an ordinary connection) and reads one row of
   * every table of `publication`, as Debezium's snapshot would. A refusal is a
   * non-retryable `TableAccessDenied` naming the table.
   */
  async function testTableAccess(input: { secret: string; publication: string }): Promise<{ tables: string[] }> {
    const tables = await publicationTables(input.publication);
    const client = await connectAs(input.secret);
    try {
      const checked: string[] = [];
      for (const t of tables) {
        const name = `${t.schema}.${t.table}`;
        try {
          await client.query(
            `SELECT 1 FROM ${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.table)} LIMIT 1`,
          );
        } catch (err) {
          if (pgCode(err) === '42501') {
            throw ApplicationFailure.nonRetryable(
              `the user in secret ${input.secret} may not read ${name} (publication ${input.publication}): ${(err as Error).message}`,
              'TableAccessDenied',
            );
          }
          throw err;
        }
        checked.push(name);
        heartbeat(name);
      }
      return { tables: checked };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Opens a logical replication connection with a secret's credential and runs IDENTIFY_SYSTEM. */
  async function testReplicationLogin(input: { secret: string }): Promise<{ systemId: string; user: string }> {
    const client = await conns
      .connect({ secret: input.secret, userKey: 'db-username', passwordKey: 'db-password', replication: true })
      .catch((err: Error) => {
        throw ApplicationFailure.nonRetryable(
          `replication login with secret ${input.secret} failed: ${err.message}`,
          'ReplicationLoginFailed',
        );
      });
    try {
      const { rows } = await client.query<{ systemid: string }>('IDENTIFY_SYSTEM');
      return { systemId: String(rows[0]?.systemid), user: String((client as unknown as { user: string }).user) };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  return { testTableAccess, testReplicationLogin };
}
