/**
 * The access matrix of issue 4, written out by hand (never computed from the code under
 * test) and shared by the pure grantedActions test and the /v2 AccessController test.
 * Rows: who. Columns: pull / push / delete on a repository of the project, and the catalog.
 * The project robot holds pull+push on its project; the system robot pull on every
 * project ("*") and catalog read.
 */
export type MatrixPrincipal =
  | 'anonymous'
  | 'projectAdmin'
  | 'maintainer'
  | 'developer'
  | 'guest'
  | 'limitedGuest'
  | 'non-member'
  | 'project robot'
  | 'system robot'
  | 'system admin';

// The expected matrix, written out by hand (never computed from the code under test):
// granted actions for pull / push / delete on repository team/app, and registry:catalog:*.
export const EXPECTED: Record<'private' | 'public', Record<MatrixPrincipal, { pull: boolean; push: boolean; delete: boolean; catalog: boolean }>> = {
  private: {
    anonymous: { pull: false, push: false, delete: false, catalog: false },
    projectAdmin: { pull: true, push: true, delete: true, catalog: false },
    maintainer: { pull: true, push: true, delete: true, catalog: false },
    developer: { pull: true, push: true, delete: false, catalog: false },
    guest: { pull: true, push: false, delete: false, catalog: false },
    limitedGuest: { pull: true, push: false, delete: false, catalog: false },
    'non-member': { pull: false, push: false, delete: false, catalog: false },
    'project robot': { pull: true, push: true, delete: false, catalog: false },
    'system robot': { pull: true, push: false, delete: false, catalog: true },
    'system admin': { pull: true, push: true, delete: true, catalog: true },
  },
  public: {
    anonymous: { pull: true, push: false, delete: false, catalog: false },
    projectAdmin: { pull: true, push: true, delete: true, catalog: false },
    maintainer: { pull: true, push: true, delete: true, catalog: false },
    developer: { pull: true, push: true, delete: false, catalog: false },
    guest: { pull: true, push: false, delete: false, catalog: false },
    limitedGuest: { pull: true, push: false, delete: false, catalog: false },
    'non-member': { pull: true, push: false, delete: false, catalog: false },
    'project robot': { pull: true, push: true, delete: false, catalog: false },
    'system robot': { pull: true, push: false, delete: false, catalog: true },
    'system admin': { pull: true, push: true, delete: true, catalog: true },
  },
};
