import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lowerRole, ROLES } from './accounts.js';

test('a token acts with the lesser of its own role and its user\'s current one', () => {
  const want: Record<string, string> = {
    'admin/admin': 'admin', 'admin/operator': 'operator', 'admin/viewer': 'viewer',
    'operator/admin': 'operator', 'operator/operator': 'operator', 'operator/viewer': 'viewer',
    'viewer/admin': 'viewer', 'viewer/operator': 'viewer', 'viewer/viewer': 'viewer',
  };
  for (const token of ROLES) for (const user of ROLES) assert.equal(lowerRole(token, user), want[`${token}/${user}`], `token ${token}, user ${user}`);
});
