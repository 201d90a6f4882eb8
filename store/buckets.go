package store

// Every bucket of the database, with its keys and values: the one place
// that says what the file holds. Keys joined with "/" are key(...) (IDs and
// slugs never contain "/"); values are JSON unless said otherwise. init
// creates them all (allBuckets); fsck and backup read them through Store.
var (
	bucketMeta              = []byte("meta")                 // schema_version, the maintained counts (counters.go) → bytes
	bucketSigningKeys       = []byte("signing_keys")         // kid → SigningKey (the URL-signing keys; the first one signs)
	bucketWorkspaces        = []byte("workspaces")           // id → Workspace
	bucketWorkspaceSlug     = []byte("workspace_slugs")      // slug → id
	bucketProjects          = []byte("projects")             // id → Project
	bucketProjectSlug       = []byte("project_slugs")        // wsID/slug → id
	bucketBuilds            = []byte("builds")               // id → Build
	bucketProjectBuilds     = []byte("project_builds")       // projectID/seq (16 hex)/buildID → nil: a project's builds, in upload order
	bucketBuildCounts       = []byte("build_counts")         // projectID/level/block → uint64: builds per block of sequence numbers (rank.go)
	bucketProcessing        = []byte("processing")           // seq (16 hex)/buildID → a byte: builds queued for processing, oldest first
	bucketFiles             = []byte("files")                // id → File
	bucketBuildFiles        = []byte("build_files")          // buildID/fileID → nil
	bucketChecksumFiles     = []byte("checksum_files")       // checksum/fileID → nil: files by content, for fsck and duplicates
	bucketBlobRefs          = []byte("blob_refs")            // sha256 (32 bytes) → uint64 count of files using the blob
	bucketLinks             = []byte("links")                // id → PublicLink
	bucketFileLinks         = []byte("file_links")           // fileID/linkID → nil
	bucketAccessLog         = []byte("access_log")           // linkID or distributionID/seq (16 hex, its access count) → AccessLogEntry
	bucketDownloadToken     = []byte("download_tokens")      // sha256(token) → DownloadToken (single use)
	bucketDistributions     = []byte("distributions")        // id → Distribution
	bucketDistSlugs         = []byte("distribution_slugs")   // wsID/slug → id
	bucketDevices           = []byte("devices")              // wsID/UDID → Device
	bucketUsers             = []byte("users")                // id → User
	bucketUsernames         = []byte("usernames")            // username → id
	bucketUserEmails        = []byte("user_emails")          // lowercased e-mail address → user id
	bucketTickets           = []byte("tickets")              // sha256(token) → Ticket: invitations, reset and confirmation links (accounts.go)
	bucketTicketIDs         = []byte("ticket_ids")           // ticket id → sha256(token)
	bucketServiceAccts      = []byte("service_accounts")     // id → ServiceAccount
	bucketTokens            = []byte("tokens")               // sha256(token) → Token
	bucketOwnerTokens       = []byte("owner_tokens")         // ownerID/prefix → sha256(token)
	bucketWebhooks          = []byte("webhooks")             // id → Webhook
	bucketWebhookScope      = []byte("webhook_scope")        // wsID/projectID or "*"/webhookID → nil
	bucketDeliveries        = []byte("deliveries")           // webhookID/seq (16 hex) → Delivery: the outbox and its log
	bucketAuditLog          = []byte("audit_log")            // seq (8 bytes) → AuditEntry (auditlog.go)
	bucketAuditWorkspace    = []byte("audit_workspace")      // wsID/seq (16 hex) → nil: a workspace's entries
	bucketMailOutbox        = []byte("mail_outbox")          // seq (8 bytes) → Mail: waiting to be sent (mail.go)
	bucketMailRate          = []byte("mail_rate")            // lowercased address → mailRate: mails this hour
	bucketTesterGroups      = []byte("tester_groups")        // id → TesterGroup (testers.go)
	bucketTesterGroupSlugs  = []byte("tester_group_slugs")   // wsID/slug → id
	bucketTesterAddrs       = []byte("tester_addrs")         // address NUL/wsID/group slug → nil: who is in which group
	bucketTesterLinks       = []byte("tester_links")         // sha256(token) → TesterLink: testers' sign-in links (testersessions.go)
	bucketTesterLinkAddrs   = []byte("tester_link_addrs")    // address → sha256(token): its one pending link
	bucketTesterSessions    = []byte("tester_sessions")      // id → TesterSession
	bucketTesterAddrSess    = []byte("tester_addr_sessions") // address NUL/created (16 hex)/id → id: an address's sessions
	bucketTesterRevocations = []byte("tester_revocations")   // wsID/address → testerRevocation
	bucketNotifyJobs        = []byte("notify_jobs")          // seq (8 bytes) → NotifyJob: notifications to mail (notify.go)
	bucketNotifySent        = []byte("notify_sent")          // distID or "members"/buildID → time: mailed about once
	bucketNotifyRate        = []byte("notify_rate")          // wsID → notifyRate: notification mails this hour
	bucketNotifyOptOut      = []byte("notify_optout")        // distID or "w:"wsID/address digest → time: unsubscribed
	bucketInstalls          = []byte("installs")             // seq (8 bytes) → Install (installs.go)
	bucketInstallIndex      = []byte("install_index")        // b/buildID, d/distID or t/wsID/tester NUL, then /seq (16 hex) → seq; n/buildID → its count
	bucketFeedback          = []byte("feedback")             // buildID/seq (16 hex) → Feedback (feedback.go)
	bucketReleaseUploads    = []byte("release_uploads")      // id → ReleaseUpload: App Center's uploads (appcenter.go)
	bucketReleaseAssets     = []byte("release_assets")       // asset ID → upload ID

	allBuckets = [][]byte{
		bucketMeta, bucketSigningKeys, bucketWorkspaces, bucketWorkspaceSlug, bucketProjects, bucketProjectSlug,
		bucketBuilds, bucketProjectBuilds, bucketBuildCounts, bucketProcessing, bucketFiles, bucketBuildFiles,
		bucketChecksumFiles, bucketBlobRefs, bucketLinks, bucketFileLinks, bucketAccessLog, bucketDownloadToken,
		bucketDistributions, bucketDistSlugs, bucketDevices, bucketUsers, bucketUsernames, bucketServiceAccts,
		bucketTokens, bucketOwnerTokens, bucketWebhooks, bucketWebhookScope, bucketDeliveries,
		bucketAuditLog, bucketAuditWorkspace, bucketMailOutbox, bucketMailRate, bucketUserEmails, bucketTickets, bucketTicketIDs,
		bucketTesterGroups, bucketTesterGroupSlugs, bucketTesterAddrs, bucketTesterLinks, bucketTesterLinkAddrs,
		bucketTesterSessions, bucketTesterAddrSess, bucketTesterRevocations,
		bucketNotifyJobs, bucketNotifySent, bucketNotifyRate, bucketNotifyOptOut, bucketInstalls, bucketInstallIndex, bucketFeedback,
		bucketReleaseUploads, bucketReleaseAssets,
	}
)
