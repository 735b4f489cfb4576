// Imported first by every API test file: the generated Prisma client must exist before
// anything imports it (a fresh clone has none; it is gitignored).
import { ensurePrismaClient } from '../../scripts/generate';

ensurePrismaClient();
