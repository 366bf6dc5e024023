// Shared tool parameters, described once (the description is all the model sees of a field).
import { z } from 'zod';

export const WebsiteId = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'a website id is a UUID')
  .describe('Crisp website id; omit to use the default website');
