/** Recognisable fake credentials: any appearance of these in output is a leak. */
export const TEST_CREDENTIALS = {
  accessKeyId: 'AKLTFAKEACCESSKEYIDFORTESTS000001',
  secretAccessKey: 'FAKE-SECRET-ACCESS-KEY-must-never-leak-7f3a9c',
} as const;

export const STS_CREDENTIALS = {
  accessKeyId: 'AKTPFAKESTSACCESSKEYID00000000002',
  secretAccessKey: 'FAKE-STS-SECRET-must-never-leak-19be22',
  sessionToken: 'STSFAKESESSIONTOKEN-must-never-leak-5d0e',
} as const;

export const STORAGE_SECRETS = {
  AccessKey: 'AKIAFAKESTORAGEACCESSKEY9',
  SecretKey: 'fake/storage+secret-must-never-leak-aa41',
} as const;

export const ALL_SECRETS: string[] = [
  TEST_CREDENTIALS.secretAccessKey,
  TEST_CREDENTIALS.accessKeyId,
  STS_CREDENTIALS.secretAccessKey,
  STS_CREDENTIALS.sessionToken,
  STS_CREDENTIALS.accessKeyId,
  STORAGE_SECRETS.AccessKey,
  STORAGE_SECRETS.SecretKey,
];
