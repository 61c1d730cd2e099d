//! Client requests from the page: sent through a node to the leader, recorded as a history
//! for the linearizability checker, with their honest outcomes.

use super::*;

impl LiveCluster {
    /// Sends a key-value request through `target` (None: the leader), recording it in the
    /// page's history. Returns its request id.
    pub fn kv(&mut self, op: KvOp, target: Option<NodeId>, now: Now) -> u64 {
        self.now = now;
        let id = self.next_id;
        self.next_id += 1;
        let (key, input) = match &op {
            KvOp::Get { key } => (key.clone(), KvInput::Get),
            KvOp::Put { key, value } => (key.clone(), KvInput::Put(bytes(value))),
            KvOp::Delete { key } => (key.clone(), KvInput::Delete),
        };
        self.logical += 1;
        let index = self.history.len();
        self.history.push(Operation {
            client: u64::from(CONSOLE),
            key: bytes(&key),
            input,
            output: KvOutput::Unknown,
            invoke: self.logical,
            complete: None,
        });
        self.times.push(OpTimes {
            invoke_ms: self.page_ms(),
            complete_ms: None,
        });
        let addr = target
            .and_then(|t| self.conn_of(t))
            .or_else(|| self.leader_conn())
            .or_else(|| self.any_conn())
            .map(str::to_string);
        let Some(addr) = addr else {
            self.pending_kv.insert(
                id,
                PendingKv {
                    op: index,
                    addr: String::new(),
                },
            );
            self.complete_kv(
                id,
                KvOutcome::Failed {
                    message: "no node to send it to".into(),
                },
            );
            return id;
        };
        let via = self
            .conns
            .get(&addr)
            .and_then(|c| c.node)
            .map_or(addr.clone(), node_name);
        self.line(
            self.page_ms() as f64,
            TraceKind::Client,
            format!("you → {via}: {}", describe_kv(&op)),
        );
        self.pending_kv.insert(
            id,
            PendingKv {
                op: index,
                addr: addr.clone(),
            },
        );
        self.send(&addr, &PageMessage::Kv { id, op });
        id
    }

    pub(super) fn complete_kv(&mut self, id: u64, outcome: KvOutcome) {
        let Some(pending) = self.pending_kv.remove(&id) else {
            return;
        };
        let Some(op) = self.history.get_mut(pending.op) else {
            return;
        };
        self.logical += 1;
        let (output, complete, text) = match &outcome {
            KvOutcome::Ok { value, removed } => {
                let output = match (&op.input, removed) {
                    (KvInput::Get, _) => KvOutput::Value(value.as_deref().map(bytes)),
                    (KvInput::Put(_), _) => KvOutput::Ok,
                    (KvInput::Delete, Some(removed)) => KvOutput::Deleted(*removed),
                    // A node that did not say whether the key existed: the delete stays
                    // open, and the checker may place it anywhere after its invocation.
                    (KvInput::Delete, None) => KvOutput::Unknown,
                    (KvInput::CompareAndSet { .. }, _) => KvOutput::Unknown,
                };
                let shown = match (&op.input, value, removed) {
                    (KvInput::Get, None, _) => "(nil)".to_string(),
                    (KvInput::Get, Some(v), _) => format!("\"{v}\""),
                    (KvInput::Delete, _, Some(true)) => "removed".to_string(),
                    (KvInput::Delete, _, Some(false)) => "no such key".to_string(),
                    _ => "ok".to_string(),
                };
                let complete = (output != KvOutput::Unknown).then_some(self.logical);
                (output, complete, shown)
            }
            KvOutcome::Failed { message } => (KvOutput::Failed, None, format!("failed: {message}")),
            KvOutcome::Unknown { message } => {
                (KvOutput::Unknown, None, format!("unknown: {message}"))
            }
        };
        op.output = output;
        op.complete = complete;
        let what = match &op.input {
            KvInput::Get => format!("get {}", String::from_utf8_lossy(&op.key)),
            KvInput::Put(v) => format!(
                "put {}={}",
                String::from_utf8_lossy(&op.key),
                String::from_utf8_lossy(v)
            ),
            KvInput::Delete => format!("delete {}", String::from_utf8_lossy(&op.key)),
            KvInput::CompareAndSet { .. } => "cas".into(),
        };
        let page_ms = self.page_ms();
        if let Some(times) = self.times.get_mut(pending.op) {
            times.complete_ms = Some(page_ms);
        }
        self.line(
            self.page_ms() as f64,
            TraceKind::Client,
            format!("you ← {what}: {text}"),
        );
    }

    /// Operations still waiting for an answer.
    pub fn pending_kv(&self) -> usize {
        self.pending_kv.len()
    }

    // ----- admin -----

    /// Uses `token` (the cluster's admin token) on every socket, now and later.
    pub fn set_token(&mut self, token: &str, now: Now) {
        self.now = now;
        self.token = token.trim().to_string();
        if self.token.is_empty() {
            return;
        }
        let open: Vec<String> = self
            .conns
            .values()
            .filter(|c| c.state == ConnState::Open && c.welcomed)
            .map(|c| c.addr.clone())
            .collect();
        let token = self.token.clone();
        for addr in open {
            self.send(
                &addr,
                &PageMessage::Auth {
                    token: token.clone(),
                },
            );
        }
        self.admin_line("token sent to every node".into(), None);
    }

    /// Carries out an operation from a panel.
    pub fn op(&mut self, op: LiveOp, now: Now) -> Result<(), String> {
        self.now = now;
        match op {
            LiveOp::Admin(action) => self.admin(action).map(|_| ()),
            LiveOp::Link { a, b, cut } => {
                if cut {
                    // The native end of the link drops traffic both ways.
                    let (node, other) = if self.is_peer(a) { (b, a) } else { (a, b) };
                    let mut peers = self.cut_of(node);
                    peers.insert(other);
                    self.admin(AdminAction::Cut {
                        node,
                        peers: peers.into_iter().collect(),
                    })
                    .map(|_| ())
                } else {
                    for (node, other) in [(a, b), (b, a)] {
                        let mut peers = self.cut_of(node);
                        if peers.remove(&other) {
                            self.admin(AdminAction::Cut {
                                node,
                                peers: peers.into_iter().collect(),
                            })?;
                        }
                    }
                    Ok(())
                }
            }
            LiveOp::AddLearner => Err("use the form to add a learner".into()),
            LiveOp::PromotePeer => {
                let id = self.peer_id().ok_or("no browser peer")?;
                self.admin(AdminAction::Promote { id }).map(|_| ())
            }
            LiveOp::RemovePeer => self.peer_leave(),
        }
    }
}
