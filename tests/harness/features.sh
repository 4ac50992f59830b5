# shellcheck shell=bash
# What the feature tests share, on the platform (platform.sh with
# PLATFORM_FEATURES) and SIPp (sipp.sh):
#
#   feature USER KIND SETTINGS [GROUP]  # USER's active subscription to KIND,
#                                       # replaced; GROUP: FEATURE_GROUP_ID
#   nofeatures USER...                  # every subscription of those USERs
#   settle                              # NOTIFY reaches redirectd and featured
#   last_status NAME                    # a SIPp caller's final status
#   received NAME METHOD                # how many METHOD requests NAME got
#   invites NAME                        # how many INVITEs NAME got (by the
#                                       # top Via's branch: a retransmission
#                                       # is not another INVITE)
#
# PLATFORM_FEATURE_OFF=KIND makes feature store KIND's subscriptions
# switched off by the user (user_enabled false): a test run so shows that
# its checks of KIND fail without the feature.

feature() {
    local on=true
    [[ "${PLATFORM_FEATURE_OFF:-}" != "$2" ]] || on=false
    platform_sql -c "INSERT INTO subscriber_features (subscriber_id, feature, user_enabled, group_id, settings)
        SELECT id, '$2', $on, ${4:-$FEATURE_GROUP_ID}, '$3'::jsonb FROM subscribers WHERE user_part = '$1'
        ON CONFLICT (subscriber_id, feature) DO UPDATE SET settings = EXCLUDED.settings,
        user_enabled = $on, group_id = EXCLUDED.group_id" >/dev/null
}
nofeatures() {
    platform_sql -c "DELETE FROM subscriber_features WHERE subscriber_id IN
        (SELECT id FROM subscribers WHERE user_part IN ($(printf "'%s'," "$@" | sed 's/,$//')))" >/dev/null
}
settle() { sleep 0.5; }
last_status() { platform_statuses "$1" | awk '{print $NF}'; }
received() { platform_received "$1" | grep -c "^$2 " || true; }
invites() {
    platform_received "$1" | awk '/^INVITE / {inv = 1; next} inv && /^Via:/ {print; inv = 0}' |
        sed 's/.*branch=\([^;,]*\).*/\1/' | sort -u | wc -l
}
