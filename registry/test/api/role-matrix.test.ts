import { openPGlite, openPostgres } from './harness.ts';
import { roleMatrixSuite } from './role-matrix-suite.ts';

roleMatrixSuite('PGlite', openPGlite);
roleMatrixSuite('PostgreSQL', openPostgres);
