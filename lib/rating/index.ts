// Public entry of the rating rules (pure). The web tool and the stored ratings are the rating
// service: services/rating/.
export * from './errors.js';
export * from './ratings.js';
export * from './json.js';
