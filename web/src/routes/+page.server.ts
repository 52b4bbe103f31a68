import { redirect } from '@sveltejs/kit';
import type { PageServerLoad } from './$types';

/** The shop lives at /retail_shop. */
export const load: PageServerLoad = () => redirect(307, '/retail_shop');
