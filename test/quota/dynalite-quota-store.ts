/** The quota store the functions use (DynamoDbQuotaStore), on a fresh table of a test's dynalite: its frontiers start empty. */
import { DynamoDbQuotaStore } from '../../lib/quota/quota-store.ts';
import { createQuotaTable, type DynaliteServer } from '../dynamodb/dynalite-server.ts';

let tables = 0;

export async function freshQuotaStore(server: DynaliteServer, prefix: string): Promise<DynamoDbQuotaStore> {
  const name = `${prefix}-${++tables}`;
  await createQuotaTable(server.url, name);
  return new DynamoDbQuotaStore(name, { endpoint: server.url, region: 'us-east-1' });
}
