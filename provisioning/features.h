/*
 * Subscribers' feature subscriptions (issue 5): the handlers of
 * /feature-kinds and /subscribers/{id}/features[/{feature}[/script]].
 *
 * A subscription is a row of subscriber_features (003_features.sql):
 * admin_enabled (VOCAL's adminSet: the carrier offers it), user_enabled
 * (userSet: the subscriber switched it on), locked (the carrier's settings,
 * which the subscriber may not change), the feature server group and the
 * settings (feature/settings.h validates them; a raw cpl script is
 * compiled at upload). The route table (api.c) says who may call which
 * handler; within a PUT, what a subscriber may change is the route's
 * own_fields, on a subscription the carrier offers and did not lock.
 *
 * An active raw cpl script beside active carrier-locked features is
 * allowed: featured runs the locked features of the script's side first
 * (cpl_gen's locked part, cpl_run_gated), so the script cannot bypass
 * them; GET .../script?part=locked shows that part.
 */
#ifndef VOCAL_PROVISIONING_FEATURES_H
#define VOCAL_PROVISIONING_FEATURES_H

#include "provisioning/api.h"

void feature_kinds_list(struct api_call *c); /* GET /feature-kinds */
void features_list(struct api_call *c);      /* GET /subscribers/{id}/features */
void feature_get(struct api_call *c);        /* GET .../features/{feature} */
void feature_put(struct api_call *c);        /* PUT .../features/{feature} */
void feature_delete(struct api_call *c);     /* DELETE .../features/{feature} */
void feature_script(struct api_call *c);     /* GET .../features/{feature}/script[?part=locked] */

#endif
