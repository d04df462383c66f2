import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startKube } from './testing/kube.js';

// The Kubernetes tests' control plane (issue: Kubernetes applications): a real API server on etcd,
// with the controller-manager that finalizes deleted namespaces. This proves the harness itself.

test('the test Kubernetes control plane: objects are stored and served, and a deleted namespace is finalized', async () => {
  const kube = await startKube();
  try {
    assert.equal((await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } })).status, 201);
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'shop', labels: { app: 'shop' } }, data: { mode: 'production' } };
    assert.equal((await kube.api('POST', '/api/v1/namespaces/shop/configmaps', cm)).status, 201);
    const got = await kube.api<{ data: Record<string, string> }>('GET', '/api/v1/namespaces/shop/configmaps/settings');
    assert.deepEqual(got.body.data, { mode: 'production' });
    // Server-side dry run is what a restore's preflight will use.
    const dry = await kube.api('POST', '/api/v1/namespaces/shop/configmaps?dryRun=All', { ...cm, metadata: { ...cm.metadata, name: 'other' } });
    assert.equal(dry.status, 201);
    assert.equal((await kube.api('GET', '/api/v1/namespaces/shop/configmaps/other')).status, 404);
    assert.equal((await kube.api('DELETE', '/api/v1/namespaces/shop')).status, 200);
    const end = Date.now() + 60_000;
    while ((await kube.api('GET', '/api/v1/namespaces/shop')).status !== 404) {
      assert.ok(Date.now() < end, 'the namespace was not finalized within 60 s');
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await kube.stop();
  }
});
