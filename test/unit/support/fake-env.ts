/** An env as findEnv would return it (maestro .10, esclavo .11), for tests that only need its facts. */
import type { LabEnv } from '../../../src/env/env.js';

export const fakeEnv = (pg: LabEnv['pg']): LabEnv => ({
  name: 'alumno01', pg, subnet: '10.213.7.0/24', created: '', image: '',
  servers: [
    { role: 'maestro', container: 'c1', ip: '10.213.7.10', state: 'running' },
    { role: 'esclavo', container: 'c2', ip: '10.213.7.11', state: 'running' },
  ],
});
