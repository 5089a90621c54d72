#!/bin/sh
# Creates (or updates) the Event Grid subscription that delivers restore
# drops to the restore function: deploys infra/restore-events.bicep into the
# app's resource group. Run after the code is deployed (azd's postdeploy
# hook runs it; by hand see docs/deploy.md). The host creates the
# blobs_extension key when it first starts with the blob trigger, so the
# deployment is retried for a few minutes.
#
# Reads AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME and
# LANGSYNC_EVENTGRID_TOPIC (main.bicep's outputs; azd exports them).
set -eu
: "${AZURE_RESOURCE_GROUP:?set AZURE_RESOURCE_GROUP}"
: "${AZURE_FUNCTION_APP_NAME:?set AZURE_FUNCTION_APP_NAME}"
: "${LANGSYNC_EVENTGRID_TOPIC:?set LANGSYNC_EVENTGRID_TOPIC}"
dir=$(dirname "$0")
i=1
while :; do
	if az deployment group create \
		--resource-group "$AZURE_RESOURCE_GROUP" \
		--name langsync-restore-events \
		--template-file "$dir/restore-events.bicep" \
		--parameters functionAppName="$AZURE_FUNCTION_APP_NAME" systemTopicName="$LANGSYNC_EVENTGRID_TOPIC" \
		--output none; then
		echo "restore events: subscription langsync-restore-drops is in place"
		exit 0
	fi
	if [ "$i" -ge 6 ]; then
		echo "restore events: gave up after $i attempts; run infra/restore-events.sh again once the app has started" >&2
		exit 1
	fi
	echo "restore events: attempt $i failed (host not started yet?); retrying in 30 s" >&2
	i=$((i + 1))
	sleep 30
done
