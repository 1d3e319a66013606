//! A cheap view of whether SIP still serves, for readiness checks: the tasks that receive and
//! dispatch SIP are alive and the server has not been shut down.

use std::net::SocketAddr;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct SipProbe {
    tasks: Vec<AbortHandle>,
    cancel: CancellationToken,
    addr: SocketAddr,
}

impl SipProbe {
    pub(crate) fn new(
        tasks: Vec<AbortHandle>,
        cancel: CancellationToken,
        addr: SocketAddr,
    ) -> Self {
        SipProbe {
            tasks,
            cancel,
            addr,
        }
    }

    /// `Ok` while listening; otherwise what stopped.
    pub fn check(&self) -> Result<(), String> {
        if self.cancel.is_cancelled() {
            return Err(format!("SIP on {} is shut down", self.addr));
        }
        if self.tasks.is_empty() || self.tasks.iter().any(AbortHandle::is_finished) {
            return Err(format!("SIP on {} stopped serving", self.addr));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn finished(h: &tokio::task::JoinHandle<()>) {
        for _ in 0..500 {
            if h.is_finished() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("task did not end");
    }

    #[tokio::test]
    async fn a_stopped_task_or_a_shutdown_fails_the_check() {
        let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let cancel = CancellationToken::new();
        let serving = tokio::spawn(std::future::pending::<()>());
        let dispatch = tokio::spawn(async {});
        finished(&dispatch).await;
        let p = SipProbe::new(vec![serving.abort_handle()], cancel.clone(), addr);
        assert_eq!(p.check(), Ok(()));
        let p2 = SipProbe::new(
            vec![serving.abort_handle(), dispatch.abort_handle()],
            cancel.clone(),
            addr,
        );
        assert_eq!(
            p2.check(),
            Err("SIP on 127.0.0.1:5060 stopped serving".into())
        );
        cancel.cancel();
        assert_eq!(p.check(), Err("SIP on 127.0.0.1:5060 is shut down".into()));
        serving.abort();
    }
}
