package api

// table is every route of the API. docs/openapi.yaml describes the same
// set; TestRoutesMatchSpec keeps them equal.
func (a *API) table() []route {
	return []route{
		// Apps: the operator's.
		{"GET", "/apps", operatorOnly, a.listApps},
		{"POST", "/apps", operatorOnly, a.createApp},
		{"GET", "/apps/{app}", operatorOnly, a.getApp},
		{"PATCH", "/apps/{app}", operatorOnly, a.updateApp},
		{"DELETE", "/apps/{app}", operatorOnly, a.deleteApp},
		{"POST", "/apps/{app}/rotate_secret", operatorOnly, a.rotateSecret},

		// Inside an app: an admin token of the app, or the operator key.
		{"POST", "/apps/{app}/tokens", inApp, a.mintToken},

		{"GET", "/apps/{app}/rooms", inApp, a.listRooms},
		{"GET", "/apps/{app}/rooms/{room}", inApp, a.getRoom},
		{"POST", "/apps/{app}/rooms/{room}/close", inApp, a.closeRoom},

		{"GET", "/apps/{app}/rooms/{room}/participants/{user}", inApp, a.getParticipant},
		{"PATCH", "/apps/{app}/rooms/{room}/participants/{user}", inApp, a.updateParticipant},
		{"POST", "/apps/{app}/rooms/{room}/participants/{user}/kick", inApp, a.kick},
		{"GET", "/apps/{app}/rooms/{room}/bans/{user}", inApp, a.getBan},
		{"DELETE", "/apps/{app}/rooms/{room}/bans/{user}", inApp, a.unban},

		{"GET", "/apps/{app}/rooms/{room}/streams", inApp, a.listStreams},
		{"POST", "/apps/{app}/rooms/{room}/streams/{stream}/mute", inApp, a.muteStream},

		{"GET", "/apps/{app}/rooms/{room}/attributes", inApp, a.getAttributes},
		{"PATCH", "/apps/{app}/rooms/{room}/attributes", inApp, a.setAttributes},
		{"POST", "/apps/{app}/rooms/{room}/attributes/delete", inApp, a.deleteAttributes},
		{"POST", "/apps/{app}/rooms/{room}/messages", inApp, a.sendMessage},

		{"GET", "/apps/{app}/reports", inApp, a.queryReports},
		{"GET", "/apps/{app}/usage", inApp, a.queryUsage},

		{"GET", "/apps/{app}/webhook", inApp, a.getWebhook},
		{"PUT", "/apps/{app}/webhook", inApp, a.putWebhook},
		{"GET", "/apps/{app}/webhook/deliveries", inApp, a.listWebhookDeliveries},

		{"GET", "/apps/{app}/ingests", inApp, a.listIngests},
		{"POST", "/apps/{app}/ingests", inApp, a.createIngest},
		{"GET", "/apps/{app}/ingests/{ingest}", inApp, a.getIngest},
		{"DELETE", "/apps/{app}/ingests/{ingest}", inApp, a.revokeIngest},
	}
}
