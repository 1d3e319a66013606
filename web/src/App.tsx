import { BrowserRouter, Route, Routes } from 'react-router';
import { AuthProvider } from './auth';
import { LoginPage } from './Login';
import { Home, ItemDetailPage, ItemPage, RequireAuth, Shell, TabHome } from './Shell';

export function App() {
  return (
    <BrowserRouter>
      <AuthProvider>
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route
            path="/"
            element={
              <RequireAuth>
                <Shell />
              </RequireAuth>
            }
          >
            <Route index element={<Home />} />
            <Route path=":tab" element={<TabHome />} />
            <Route path=":tab/:item" element={<ItemPage />} />
            <Route path=":tab/:item/:id" element={<ItemDetailPage />} />
          </Route>
        </Routes>
      </AuthProvider>
    </BrowserRouter>
  );
}
