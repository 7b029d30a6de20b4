//! Group commit for SQLite write transactions: many logical transactions share one fsync.
//!
//! SQLite in WAL mode with `synchronous = FULL` pays one fsync per COMMIT (~1.6 ms here), and a
//! single writer connection cannot overlap them, so one-commit-per-transaction caps writes at a
//! few hundred per second. Here the writer connection is a *baton* passed from one logical
//! transaction to the next, in arrival order, and logical transactions share a physical one:
//!
//! - The first holder opens the physical transaction (`BEGIN IMMEDIATE`, so `busy_timeout`
//!   still governs other processes such as the CLI); every logical transaction that may share
//!   it runs inside its own `SAVEPOINT`. One that begins a batch with nobody waiting behind it
//!   needs none: nothing else rides on its physical transaction, which it commits or rolls back
//!   itself, exactly as a plain transaction would — so an idle server pays nothing extra.
//! - `commit()` releases the savepoint and joins the batch. If someone is waiting for the writer
//!   and the batch is under [`MAX_BATCH_TRANSACTIONS`] and its window (by default
//!   [`DEFAULT_BATCH_WINDOW`], counted from its first member's commit), the open
//!   transaction is handed on *without* a physical COMMIT and the caller awaits the batch's
//!   outcome; otherwise it COMMITs and tells every member. `commit()` therefore returns `Ok` only
//!   once the data is durable, and every member of a batch whose COMMIT fails gets the error.
//!   A lone transaction commits at once: nothing ever waits for company.
//! - A logical transaction dropped without commit (or whose commit failed) owes a rollback of
//!   its savepoint (or, when nothing else rides on the physical transaction, of all of it).
//!   Drop is synchronous, so a task is spawned that holds the baton, rolls back and then hands
//!   on or commits for the batch; nothing else runs on the connection before it. If `ROLLBACK TO` / `RELEASE` fail, SQLite has already ended the whole
//!   physical transaction (SQLITE_FULL, I/O errors, `RAISE(ROLLBACK)`): the batch fails as a
//!   whole and the connection is rolled back, ready for the next batch.
//! - The multi-step parts of a shared turn (release, hand-over, COMMIT, clean-up) run on spawned
//!   tasks, so a caller whose future is cancelled can never leave the writer half handed over.
//!
//! Logical transactions later in a batch see the writes of earlier members (they are ordered,
//! exactly as with one commit each); readers see only physically committed data.
//!
//! The price: a member's acknowledgement waits for the transactions handed the writer after
//! it. Write transactions must stay short (SQLite's single writer demands that anyway), and a
//! task must never wait, inside a write transaction, for another write transaction's `commit()`
//! to return; a member kept waiting longer than [`SLOW_BATCH`] is logged.

use crate::error::{StoreError, StoreResult};
use crate::shared_error;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};

/// Most logical transactions per physical one. Beyond a few dozen the fsync is already
/// amortised to a few percent; the cap bounds how much work one failing COMMIT takes down.
pub const MAX_BATCH_TRANSACTIONS: usize = 64;

/// How long after its first member committed a batch still takes newcomers
/// ([`crate::DbConfig::sqlite_group_commit_window`]). That member's acknowledgement waits for the
/// whole batch, so this bounds the latency group commit adds (about two fsyncs' worth) while
/// leaving room for dozens of short transactions.
pub const DEFAULT_BATCH_WINDOW: Duration = Duration::from_millis(4);

/// A batch member waiting this long for its outcome is reported: some write transaction is
/// holding the writer far longer than it should.
pub const SLOW_BATCH: Duration = Duration::from_secs(1);

const BEGIN: &str = "BEGIN IMMEDIATE";
// Logical transactions never overlap on the connection, so one savepoint name serves them all
// (a fixed name also keeps the statement cache to three entries).
const SAVEPOINT: &str = "SAVEPOINT frontdesk_logical_tx";
const RELEASE: &str = "RELEASE frontdesk_logical_tx";
const ROLLBACK_AND_RELEASE: &str = "ROLLBACK TO frontdesk_logical_tx; RELEASE frontdesk_logical_tx";
/// A member's release and, in the same call into the driver, the savepoint of the member it
/// hands the writer to.
const RELEASE_AND_HAND_ON: &str = "RELEASE frontdesk_logical_tx; SAVEPOINT frontdesk_logical_tx";

/// What a member of a batch learns when the batch ends.
type Outcome = Result<(), Arc<sqlx::Error>>;

/// Counters of the SQLite writer, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Logical transactions waiting for the writer connection right now.
    pub waiting: usize,
    /// Logical transactions committed durably.
    pub transactions: u64,
    /// Physical COMMITs that made them durable (`transactions / batches` is the batch size).
    pub batches: u64,
}

/// The coordinator of the single writer connection.
pub(crate) struct GroupCommit {
    pool: AnyPool,
    acquire_timeout: Duration,
    window: Duration,
    jobs_wakeup: Arc<Notify>,
    /// Drop may run outside a runtime context; clean-up tasks then go to the runtime `connect` ran on.
    runtime: tokio::runtime::Handle,
    queue: Mutex<Queue>,
    transactions: AtomicU64,
    batches: AtomicU64,
}

#[derive(Default)]
struct Queue {
    /// Someone (a logical transaction or a clean-up task) holds the baton.
    held: bool,
    /// Logical transactions waiting for the baton, oldest first.
    waiting: VecDeque<oneshot::Sender<Baton>>,
}

/// The state of the writer connection, passed with the turn.
enum Baton {
    /// No physical transaction is open; the connection rests in the writer pool.
    Idle,
    Open(Batch),
}

/// One open physical transaction and the logical transactions committed into it.
struct Batch {
    tx: Transaction<'static, Any>,
    /// When the first member committed into it.
    first_commit: Option<Instant>,
    members: Vec<oneshot::Sender<Outcome>>,
    wake_jobs: bool,
    /// The holder's work has neither joined the batch nor been rolled back: if the holder
    /// goes away like this, its changes are rolled back before anything else runs.
    unsettled: bool,
    /// The next holder's savepoint is already set (by the previous member's release): its
    /// `begin` has no statement to run.
    savepoint_set: bool,
}

impl Batch {
    fn new(tx: Transaction<'static, Any>) -> Self {
        Self { tx, first_commit: None, members: Vec::new(), wake_jobs: false, unsettled: false, savepoint_set: false }
    }

    fn join(&mut self, member: oneshot::Sender<Outcome>, wake_jobs: bool) {
        self.first_commit.get_or_insert_with(Instant::now);
        self.members.push(member);
        self.wake_jobs |= wake_jobs;
    }

    fn has_room(&self, window: Duration) -> bool {
        self.members.len() < MAX_BATCH_TRANSACTIONS && self.first_commit.is_none_or(|t| t.elapsed() < window)
    }
}

impl GroupCommit {
    pub(crate) fn new(
        pool: AnyPool,
        acquire_timeout: Duration,
        window: Duration,
        jobs_wakeup: Arc<Notify>,
    ) -> StoreResult<Self> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError::Config("the database must be opened inside a Tokio runtime".into()))?;
        Ok(Self {
            pool,
            acquire_timeout,
            window,
            jobs_wakeup,
            runtime,
            queue: Mutex::default(),
            transactions: AtomicU64::new(0),
            batches: AtomicU64::new(0),
        })
    }

    pub(crate) fn stats(&self) -> WriterStats {
        let waiting = self.queue().waiting.iter().filter(|w| !w.is_closed()).count();
        WriterStats {
            waiting,
            transactions: self.transactions.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
        }
    }

    /// Starts a logical write transaction: waits for the writer (FIFO), opens the physical
    /// transaction if none is open, and sets the logical transaction's savepoint.
    pub(crate) async fn begin(self: &Arc<Self>) -> StoreResult<GroupTx> {
        let mut turn = self.acquire().await?;
        let fresh = matches!(turn.baton, Some(Baton::Idle));
        if fresh {
            // The turn still holds `Idle` while this awaits: cancelled or failed, it is handed on.
            let tx = begin_physical(&self.pool).await?;
            turn.baton = Some(Baton::Open(Batch::new(tx)));
        }
        let savepoint = !fresh || self.has_waiters();
        let batch = turn.batch();
        // Marked before any statement runs: if the begin fails or is cancelled from here on,
        // the clean-up rolls back (to the savepoint, or the whole fresh transaction).
        batch.unsettled = true;
        if savepoint && !std::mem::take(&mut batch.savepoint_set) {
            batch.tx.execute(SAVEPOINT).await?;
        }
        Ok(GroupTx { turn, savepoint })
    }

    /// Waits for the baton. Dropping the future while it waits gives up the place in line and
    /// passes on a baton that arrived meanwhile.
    async fn acquire(self: &Arc<Self>) -> StoreResult<Turn> {
        let rx = {
            let mut queue = self.queue();
            if !queue.held {
                queue.held = true;
                return Ok(Turn::new(self.clone(), Baton::Idle));
            }
            let (tx, rx) = oneshot::channel();
            queue.waiting.push_back(tx);
            rx
        };
        let mut waiter = Waiter { group: self, rx };
        match tokio::time::timeout(self.acquire_timeout, &mut waiter.rx).await {
            Ok(Ok(baton)) => Ok(Turn::new(self.clone(), baton)),
            // The senders live in the queue, which lives as long as `self`.
            Ok(Err(_)) => Err(StoreError::Database(sqlx::Error::PoolClosed)),
            // Like the pool it replaces: a writer held too long (or a task awaiting its own
            // second write transaction) surfaces as a timeout instead of a hang.
            Err(_) => Err(StoreError::Database(sqlx::Error::PoolTimedOut)),
        }
    }

    /// Hands the baton to the oldest live waiter. An idle baton with nobody waiting is put to
    /// rest; an open batch with nobody waiting comes back to the caller, who still holds it.
    fn pass(&self, mut baton: Baton) -> Result<(), Batch> {
        let mut queue = self.queue();
        while let Some(waiter) = queue.waiting.pop_front() {
            match waiter.send(baton) {
                Ok(()) => return Ok(()),
                Err(returned) => baton = returned,
            }
        }
        match baton {
            Baton::Idle => {
                queue.held = false;
                Ok(())
            }
            Baton::Open(batch) => Err(batch),
        }
    }

    /// Ends a turn from synchronous code (drops): a clean open batch with room goes straight
    /// to the next waiter; anything that needs SQL first goes to a clean-up task.
    fn end_turn(self: &Arc<Self>, baton: Baton) {
        let batch = match baton {
            Baton::Open(batch) if !batch.unsettled && batch.has_room(self.window) => {
                match self.pass(Baton::Open(batch)) {
                    Ok(()) => return,
                    Err(batch) => batch,
                }
            }
            Baton::Open(batch) => batch,
            Baton::Idle => {
                // `pass` never returns an idle baton.
                let _ = self.pass(Baton::Idle);
                return;
            }
        };
        let group = self.clone();
        // The turn is rebuilt inside the task: should the runtime be gone and the future be
        // dropped unpolled, the batch's transaction rolls back and its members learn of it.
        self.spawn(async move { Turn::new(group, Baton::Open(batch)).settle_and_pass().await });
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.spawn(task),
            Err(_) => self.runtime.spawn(task),
        };
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // The queue is consistent after every statement, so a panic elsewhere cannot corrupt it.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn has_waiters(&self) -> bool {
        self.queue().waiting.iter().any(|w| !w.is_closed())
    }
}

/// Opens the physical transaction, replacing a pooled connection that sqlx still believes to be
/// inside a transaction (left by a ROLLBACK that found SQLite had already ended it, or by a
/// cancelled BEGIN): such a connection refuses every further `BEGIN`. Without group commit many
/// callers may find it so at once; each round replaces it, and rounds stop at `acquire_timeout`.
pub(crate) async fn begin_physical(pool: &AnyPool) -> StoreResult<Transaction<'static, Any>> {
    let deadline = Instant::now() + pool.options().get_acquire_timeout();
    loop {
        match pool.begin_with(BEGIN).await {
            Err(sqlx::Error::InvalidSavePointStatement) if Instant::now() < deadline => replace_if_stale(pool).await?,
            other => return Ok(other?),
        }
    }
}

async fn replace_if_stale(pool: &AnyPool) -> StoreResult<()> {
    let conn = pool.acquire().await?;
    if conn.is_in_transaction() {
        tracing::warn!("the SQLite writer connection was left inside a transaction; replacing it");
        if let Err(e) = conn.close().await {
            tracing::warn!(error = %e, "closing the stale SQLite writer connection failed");
        }
    }
    // Otherwise someone replaced it already, and dropping it here gives it back to the pool.
    Ok(())
}

/// Waiting in line; see [`GroupCommit::acquire`].
struct Waiter<'a> {
    group: &'a Arc<GroupCommit>,
    rx: oneshot::Receiver<Baton>,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.rx.close();
        if let Ok(baton) = self.rx.try_recv() {
            self.group.end_turn(baton);
        }
    }
}

/// The exclusive use of the writer connection. Dropped, it ends the turn (see
/// [`GroupCommit::end_turn`]); `baton` is `None` once the turn was handed on explicitly.
struct Turn {
    group: Arc<GroupCommit>,
    baton: Option<Baton>,
}

impl Turn {
    fn new(group: Arc<GroupCommit>, baton: Baton) -> Self {
        Self { group, baton: Some(baton) }
    }

    /// The open batch of a turn that has one (every logical transaction's turn does).
    fn batch(&mut self) -> &mut Batch {
        match &mut self.baton {
            Some(Baton::Open(batch)) => batch,
            _ => unreachable!("a logical transaction's turn always holds an open batch"),
        }
    }

    fn take_batch(&mut self) -> Option<Batch> {
        match self.baton.take() {
            Some(Baton::Open(batch)) => Some(batch),
            other => {
                self.baton = other;
                None
            }
        }
    }

    /// `commit()` of the only logical transaction of a batch that nobody joins: the physical
    /// COMMIT, right on the caller's task as for a plain transaction. Cancelled, sqlx completes
    /// or rolls back the COMMIT before the connection is used again, and the turn passes on idle;
    /// nothing else rides on this transaction.
    async fn commit_alone(&mut self, wake_jobs: bool) -> StoreResult<()> {
        let Some(batch) = self.take_batch() else { unreachable!("a logical transaction's turn holds its batch") };
        self.baton = Some(Baton::Idle);
        batch.tx.commit().await?;
        self.group.batches.fetch_add(1, Ordering::Relaxed);
        self.group.transactions.fetch_add(1, Ordering::Relaxed);
        if wake_jobs {
            self.group.jobs_wakeup.notify_one();
        }
        Ok(())
    }

    /// `commit()` of a logical transaction joining others, on its own task: cancelling the
    /// caller cannot stop it half-way through a hand-over.
    async fn commit_member(mut self, member: oneshot::Sender<Outcome>, wake_jobs: bool) {
        let Some(mut batch) = self.take_batch() else { return };
        // The savepoint's release doubles as proof that the physical transaction is still alive
        // before batch-mates' work rides on (SQLite may have ended it under this transaction).
        // When someone waits and the batch will still have room, the next member's savepoint is
        // set in the same round trip; should that waiter be gone by the hand-over, the empty
        // savepoint is simply committed with the batch.
        let hand_on = self.group.has_waiters() && batch.members.len() + 1 < MAX_BATCH_TRANSACTIONS;
        if let Err(e) = batch.tx.execute(if hand_on { RELEASE_AND_HAND_ON } else { RELEASE }).await {
            let _ = member.send(Err(Arc::new(e)));
            self.baton = Some(Baton::Open(batch));
            return self.settle_and_pass().await;
        }
        batch.unsettled = false;
        batch.savepoint_set = hand_on;
        batch.join(member, wake_jobs);
        if batch.has_room(self.group.window) {
            match self.group.pass(Baton::Open(batch)) {
                Ok(()) => {
                    self.baton = None;
                    return;
                }
                Err(returned) => batch = returned,
            }
        }
        self.finish(batch).await;
    }

    /// Rolls back the work of a holder that went away, then hands the batch on or ends it.
    async fn settle_and_pass(mut self) {
        let Some(mut batch) = self.take_batch() else { return };
        if batch.unsettled {
            if batch.members.is_empty() {
                // Nothing else rides on the physical transaction (and the holder may have had no
                // savepoint): end it outright.
                if let Err(e) = batch.tx.rollback().await {
                    tracing::warn!(error = %e, "rolling back the SQLite write transaction failed");
                }
                self.baton = Some(Baton::Idle);
                return;
            }
            // Both statements in one round trip; the RELEASE only runs if the rollback worked.
            if let Err(e) = batch.tx.execute(ROLLBACK_AND_RELEASE).await {
                return self.fail(batch, e).await;
            }
            batch.unsettled = false;
        }
        if batch.has_room(self.group.window) {
            match self.group.pass(Baton::Open(batch)) {
                Ok(()) => {
                    self.baton = None;
                    return;
                }
                Err(returned) => batch = returned,
            }
        }
        self.finish(batch).await;
    }

    /// The physical COMMIT; every member learns its outcome. The turn continues idle.
    async fn finish(&mut self, batch: Batch) {
        let Batch { tx, members, wake_jobs, .. } = batch;
        // On failure sqlx rolls the connection back before it is used again.
        let outcome = tx.commit().await.map_err(Arc::new);
        self.baton = Some(Baton::Idle);
        match &outcome {
            Ok(()) => {
                self.group.batches.fetch_add(1, Ordering::Relaxed);
                self.group.transactions.fetch_add(members.len() as u64, Ordering::Relaxed);
                if wake_jobs {
                    self.group.jobs_wakeup.notify_one();
                }
            }
            Err(e) => tracing::warn!(error = %e, transactions = members.len(), "group commit failed"),
        }
        for member in members {
            let _ = member.send(outcome.clone());
        }
    }

    /// The physical transaction is lost: roll back what is left and fail every member.
    async fn fail(&mut self, batch: Batch, error: sqlx::Error) {
        let Batch { tx, members, .. } = batch;
        tracing::warn!(error = %error, transactions = members.len(), "SQLite ended the write transaction; the batch fails");
        // SQLite has usually rolled back already, so this may fail; the connection is then
        // replaced at the next BEGIN (see `begin_physical`).
        if let Err(e) = tx.rollback().await {
            tracing::debug!(error = %e, "rolling back a lost SQLite write transaction");
        }
        self.baton = Some(Baton::Idle);
        let error = Arc::new(error);
        for member in members {
            let _ = member.send(Err(error.clone()));
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(baton) = self.baton.take() {
            self.group.end_turn(baton);
        }
    }
}

/// A logical write transaction: a savepoint in the shared physical transaction (or, alone, the
/// physical transaction itself). Dropped without [`GroupTx::commit`], its work is rolled back.
pub(crate) struct GroupTx {
    turn: Turn,
    /// Runs inside its own savepoint, so it can share the physical transaction.
    savepoint: bool,
}

impl GroupTx {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.turn.batch().tx
    }

    /// Returns once the transaction is durably committed (or failed, with its batch).
    pub(crate) async fn commit(mut self, wake_jobs: bool) -> StoreResult<()> {
        // Without a savepoint there is no proof to hand on that the transaction is alive, and no
        // batch to join: such a transaction commits on its own even if others arrived meanwhile.
        if self.turn.batch().members.is_empty() && (!self.savepoint || !self.turn.group.has_waiters()) {
            return self.turn.commit_alone(wake_jobs).await;
        }
        let (tx, mut rx) = oneshot::channel();
        let group = self.turn.group.clone();
        let turn = self.turn;
        group.spawn(async move { turn.commit_member(tx, wake_jobs).await });
        let outcome = match tokio::time::timeout(SLOW_BATCH, &mut rx).await {
            Ok(outcome) => outcome,
            Err(_) => {
                let stats = group.stats();
                tracing::warn!(
                    waiting = stats.waiting,
                    "a committed write transaction has waited over {SLOW_BATCH:?} for its batch: \
                     a later write transaction holds the SQLite writer too long"
                );
                rx.await
            }
        };
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Database(shared_error::replicate(&e))),
            // The task was dropped unpolled: the runtime is shutting down.
            Err(_) => Err(StoreError::Database(sqlx::Error::WorkerCrashed)),
        }
    }
}
